#!/usr/bin/env bash
# Print the Debian mirror this machine's apt is configured with, for mmdebstrap: the first `URIs:` of a deb822
# source that serves the main archive (/etc/apt/sources.list.d/*.sources), else the first `deb` line of the
# classic /etc/apt/sources.list. No registry host is written in our scripts: behind a corporate mirror the same
# script builds from that mirror. Exits 1 with a message when apt names none.
# Usage: mirror=$(scripts/ci/debian-mirror.sh). DEBIAN_MIRROR, when set, wins; APT_SOURCES_DIR / APT_SOURCES_LIST
# point it at other files (the tests do).
set -euo pipefail
if [[ -n ${DEBIAN_MIRROR:-} ]]; then echo "$DEBIAN_MIRROR"; exit 0; fi
dir=${APT_SOURCES_DIR:-/etc/apt/sources.list.d}
list=${APT_SOURCES_LIST:-/etc/apt/sources.list}
shopt -s nullglob
for file in "$dir"/*.sources; do
  # deb822 stanzas: take URIs from a stanza of Types: deb whose Suites are not only security/updates pockets.
  uri=$(awk '
    /^[[:space:]]*$/ { if (deb && uri && main) { print uri; exit } deb=0; uri=""; main=0; next }
    /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb=1 }
    /^URIs:/ { uri=$2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i !~ /-(security|updates|backports)$/ && $i !~ /\//) main=1 }
    END { if (deb && uri && main) print uri }
  ' "$file" | head -n1)
  if [[ -n $uri ]]; then echo "$uri"; exit 0; fi
done
if [[ -f $list ]]; then
  # `deb [opt=a opt=b] URI SUITE COMPONENTS...`: skip the options, take the first main-archive line.
  uri=$(awk '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
    if ($(i + 1) !~ /-(security|updates|backports)$/) { print $i; exit } }' "$list")
  if [[ -n $uri ]]; then echo "$uri"; exit 0; fi
fi
echo "debian-mirror: no Debian mirror in $dir/*.sources or $list; configure apt (or set DEBIAN_MIRROR)" >&2
exit 1
