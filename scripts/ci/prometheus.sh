#!/usr/bin/env bash
# Installs the real Prometheus server and promtool (Debian's `prometheus` package, 2.42 on bookworm) that the
# monitoring tests run, idempotently (a second run takes milliseconds). The package's own service is never
# started: the tests start their own server on loopback with their own configuration.
# Installing needs root, or passwordless sudo (as on GitHub's runners).
set -euo pipefail
log() { printf 'prometheus: %s\n' "$*" >&2; }

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
AS_ROOT=()
if [[ $(id -u) -ne 0 ]]; then
  if sudo -n true 2>/dev/null; then AS_ROOT=(sudo -n); else log "needs root to install; run 'sudo make engine'"; exit 1; fi
fi
log "installing Debian's prometheus package"
"${AS_ROOT[@]}" apt-get update -qq
# policy-rc.d-style denial: without a running init the package's postinst only links the unit; with systemd,
# stop and disable what it started, so nothing listens on :9090 that the tests did not start.
"${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if command -v systemctl >/dev/null 2>&1; then "${AS_ROOT[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
command -v promtool >/dev/null 2>&1 || { log "promtool missing after install"; exit 1; }
