"""Reads files as they are at another git revision (the baseline for comparisons)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_json, load_yaml


def show(root: Path, rev: str, relpath: str) -> str | None:
    """The file's text at `rev`, or None when the repo, the revision or the file does not exist."""
    try:
        out = subprocess.run(
            ["git", "show", f"{rev}:{relpath}"], cwd=root, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout if out.returncode == 0 else None


def json_at(root: Path, rev: str, relpath: str) -> dict[str, Any] | None:
    text = show(root, rev, relpath)
    if text is None:
        return None
    try:
        data = load_json(text)
    except ParseError:
        return None
    return data if isinstance(data, dict) else None


def yaml_at(root: Path, rev: str, relpath: str) -> dict[str, Any] | None:
    text = show(root, rev, relpath)
    if text is None:
        return None
    try:
        data = load_yaml(text)
    except ParseError:
        return None
    return data if isinstance(data, dict) else None
