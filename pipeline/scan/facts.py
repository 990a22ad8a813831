"""Image facts a release image must satisfy, from its config, history and final file list.

Pure functions over what the Engine API returns, so they are tested on plain data as well as on
images built on a real engine.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pipeline.gates.scan import ScanFinding
from pipeline.gates.scan_policy import Severity

_COMPILER = re.compile(
    r"^(?:gcc|cc|c\+\+|g\+\+|cpp|clang|clang\+\+|tcc|gfortran|rustc|go)(?:-\d+(?:\.\d+)*)?$"
    r"|^[a-z0-9_]+-linux-gnu[a-z]*-(?:gcc|g\+\+|cpp|gfortran)(?:-\d+(?:\.\d+)*)?$"
)
_BIN_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "usr/local/bin/", "usr/local/sbin/")
# BuildKit records the instruction as written; the classic builder records a remote ADD as a bare checksum
# (local sources appear as file:<sha>, dir:<sha> or multi:<sha>).
_ADD_URL = re.compile(r"(?:^|\s)ADD\s+(?:--\S+\s+)*(?P<url>(?:https?|git|ssh)://\S+|git@\S+)")
_ADD_CLASSIC_REMOTE = re.compile(r"#\(nop\)\s+ADD\s+(?P<sum>[0-9a-f]{64})\s+in\s")
_APT_LISTS_KEEP = {"lock", "partial", "auxfiles"}


def _finding(id_: str, subject: str, title: str, location: str = "") -> ScanFinding:
    return ScanFinding("image", "image", id_, subject, Severity.HIGH, title, location=location)


def user_findings(config: Mapping[str, Any]) -> list[ScanFinding]:
    user = str(config.get("User") or "").strip()
    name = user.split(":", 1)[0]
    if name in {"", "root", "0"}:
        shown = user or "unset (root)"
        return [
            _finding(
                "image.root-user",
                "config.User",
                f"runs as root (USER {shown}); add a non-root USER "
                "(e.g. `USER 10001:10001`) to the final stage",
                location="Config.User",
            )
        ]
    return []


def label_findings(config: Mapping[str, Any], required: Sequence[str]) -> list[ScanFinding]:
    labels = config.get("Labels") or {}
    return [
        _finding(
            "image.missing-label",
            label,
            f"label {label} is missing or empty; set it with LABEL (or --label at build time)",
            location="Config.Labels",
        )
        for label in required
        if not str(labels.get(label) or "").strip()
    ]


def history_findings(history: Sequence[Mapping[str, Any]]) -> list[ScanFinding]:
    findings = []
    for step, entry in enumerate(history):
        created_by = str(entry.get("CreatedBy") or entry.get("created_by") or "")
        url = _ADD_URL.search(created_by)
        classic = _ADD_CLASSIC_REMOTE.search(created_by)
        if url:
            subject = url.group("url")
        elif classic:
            subject = f"remote source sha256:{classic.group('sum')[:12]}"
        else:
            continue
        findings.append(
            _finding(
                "image.remote-add",
                subject,
                "ADD of a remote URL: the content is not pinned by the Dockerfile; download it in a RUN step "
                "that checks a pinned sha256, or COPY a vendored file",
                location=f"history step {step + 1}",
            )
        )
    return findings


def file_findings(files: Collection[str]) -> list[ScanFinding]:
    """Compilers and package-manager caches left in the final filesystem (paths without leading '/')."""
    findings = []
    for path in sorted(files):
        directory, _, base = path.rpartition("/")
        if f"{directory}/" in _BIN_DIRS and _COMPILER.match(base):
            findings.append(
                _finding(
                    "image.compiler",
                    f"/{path}",
                    f"compiler /{path} in the final image; build in a separate "
                    "stage and copy only the results",
                    location=f"/{path}",
                )
            )
    caches: Counter[str] = Counter()
    for path in files:
        if path.startswith("var/lib/apt/lists/"):
            rest = path[len("var/lib/apt/lists/") :]
            if rest.split("/", 1)[0] not in _APT_LISTS_KEEP:
                caches["/var/lib/apt/lists"] += 1
        elif path.startswith("var/cache/apt/") and path.endswith((".bin", ".deb")):
            caches["/var/cache/apt"] += 1
        elif "/.cache/pip/" in f"/{path}":
            caches["/" + path[: path.index(".cache/pip/") + len(".cache/pip")]] += 1
    how = {
        "/var/lib/apt/lists": "end the apt-get RUN with `rm -rf /var/lib/apt/lists/*`",
        "/var/cache/apt": "end the apt-get RUN with `apt-get clean`",
    }
    for cache, count in sorted(caches.items()):
        hint = how.get(cache, "install with `pip install --no-cache-dir` (or PIP_NO_CACHE_DIR=1)")
        findings.append(
            _finding(
                "image.package-cache",
                cache,
                f"package cache {cache} left in the final image ({count} files); {hint}",
                location=cache,
            )
        )
    return findings


def image_facts(
    config: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    files: Collection[str],
    required_labels: Sequence[str],
) -> list[ScanFinding]:
    return [
        *user_findings(config),
        *history_findings(history),
        *file_findings(files),
        *label_findings(config, required_labels),
    ]
