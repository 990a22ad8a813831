"""Secrets in an image: detect-secrets over files kept from every layer, and the image's ENV.

Only detectors that recognise a credential's own format run (AWS, private keys, GitHub, Slack, ...):
the entropy and keyword detectors flag every hash and test fixture in a Linux filesystem. Inline
`pragma: allowlist secret` comments are not honoured: exceptions belong in scan-policy.yaml.
Secret values never leave this module: findings carry the detector's name, the file and the line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from itertools import pairwise
from pathlib import Path

from pipeline.gates.scan import ScanFinding
from pipeline.gates.scan_policy import SecretsPolicy, Severity

_NOISY = {"Base64HighEntropyString", "HexHighEntropyString", "KeywordDetector", "IPPublicDetector"}
_ALLOWLIST_FILTER = "detect_secrets.filters.allowlist.is_line_allowlisted"
_ENV_WORDS = {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "APIKEY", "CREDENTIAL", "CREDENTIALS"}
_ENV_PAIRS = {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY"), ("AUTH", "KEY")}
_HARMLESS = {"", "true", "false", "0", "1", "yes", "no", "none", "null"}


@dataclass(frozen=True)
class LayerFile:
    """A file as stored in one layer; `copy` is where the layer reader put its bytes."""

    path: str  # without leading '/'
    copy: Path
    layer: int  # 0-based
    layers: int
    diff_id: str
    deleted_later: bool


class Candidates:
    """Which files the layer reader keeps for the secrets scan: under policy paths, not excluded, not huge."""

    def __init__(self, policy: SecretsPolicy) -> None:
        self._roots = tuple(p.strip("/") + "/" for p in policy.paths)
        self._exclude = policy.exclude
        self._max = policy.max_file_bytes
        self.too_large: list[str] = []

    def __call__(self, path: str, size: int) -> bool:
        if not f"{path}/".startswith(self._roots):
            return False
        if any(fnmatchcase(f"/{path}", pattern) for pattern in self._exclude):
            return False
        if size > self._max:
            self.too_large.append(f"/{path}")
            return False
        return True


def _slug(secret_type: str) -> str:
    return "secret." + re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


def _plugins() -> list[dict[str, str]]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins: list[type] = list(get_mapping_from_secret_type_to_class().values())
    return [{"name": cls.__name__} for cls in plugins if cls.__name__ not in _NOISY]


def scan_files(files: Iterable[LayerFile]) -> list[ScanFinding]:
    from detect_secrets.core.scan import get_filters, scan_file
    from detect_secrets.settings import transient_settings

    findings = []
    with transient_settings({"plugins_used": _plugins()}) as settings:
        settings.filters.pop(_ALLOWLIST_FILTER, None)
        get_filters.cache_clear()
        try:
            for f in files:
                seen: set[tuple[str, int]] = set()
                for secret in scan_file(str(f.copy)):
                    key = (secret.type, secret.line_number)
                    if key in seen:
                        continue
                    seen.add(key)
                    layer = f"layer {f.layer + 1}/{f.layers}" + (f" {f.diff_id[:19]}" if f.diff_id else "")
                    still = (
                        " (deleted by a later layer, still shipped in the image)" if f.deleted_later else ""
                    )
                    findings.append(
                        ScanFinding(
                            "secrets",
                            "secret",
                            _slug(secret.type),
                            f"/{f.path}",
                            Severity.CRITICAL,
                            f"{secret.type} in /{f.path}{still}; remove it from the build context and every "
                            "layer, rotate it, and pass secrets at run time",
                            location=f"/{f.path} in {layer}",
                            line=secret.line_number,
                        )
                    )
        finally:
            get_filters.cache_clear()
    return findings


def _looks_secret_name(name: str) -> bool:
    parts = [p for p in re.split(r"[^A-Z0-9]+", name.upper()) if p]
    return any(p in _ENV_WORDS for p in parts) or any(pair in _ENV_PAIRS for pair in pairwise(parts))


def scan_env(env: Sequence[str]) -> list[ScanFinding]:
    """ENV baked into the image config: anyone who pulls the image reads it with `docker inspect`."""
    from detect_secrets.core.scan import get_filters, scan_line
    from detect_secrets.settings import transient_settings

    findings = []
    with transient_settings({"plugins_used": _plugins()}):
        get_filters.cache_clear()
        try:
            for item in env:
                name, _, value = item.partition("=")
                if value.strip().lower() in _HARMLESS:
                    continue
                detected = sorted({s.type for s in scan_line(item)})
                if not detected and not _looks_secret_name(name):
                    continue
                what = detected[0] if detected else "a credential by its name"
                findings.append(
                    ScanFinding(
                        "secrets",
                        "secret",
                        _slug(detected[0]) if detected else "secret.env-variable",
                        f"ENV {name}",
                        Severity.CRITICAL,
                        f"ENV {name} in the image config looks like {what}; "
                        "remove the ENV and pass the value at run time",
                        location="Config.Env",
                    )
                )
        finally:
            get_filters.cache_clear()
    return findings
