"""The one place the tool asks git anything: the commit it runs for, the origin URL, a file at a revision.

Every question has one failure mode: None (not a checkout, no git binary, an unknown revision, git hanging
past `TIMEOUT`), and each caller decides what None means for it (a label "unknown", a ConfigError, "no
baseline"). Nothing here raises.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

TIMEOUT = 30.0


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False,
                             timeout=TIMEOUT)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def head_commit(root: Path, env: Mapping[str, str] | None = None) -> str | None:
    """The commit this run is for: GITHUB_SHA inside Actions (right even in a detached or shallow checkout),
    else `git rev-parse HEAD`."""
    env = os.environ if env is None else env
    if env.get("GITHUB_SHA"):
        return env["GITHUB_SHA"]
    out = _git(root, "rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


def origin_url(root: Path) -> str | None:
    """The `origin` remote without any user or token before the host (never bake credentials into a label)."""
    out = _git(root, "config", "--get", "remote.origin.url")
    return re.sub(r"//[^/@]+@", "//", out.strip()) or None if out is not None else None


def show(root: Path, rev: str, relpath: str) -> str | None:
    """The file's text at `rev`, or None when the repo, the revision or the file does not exist."""
    return _git(root, "show", f"{rev}:{relpath}")
