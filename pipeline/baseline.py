"""Reads files as they are at another git revision (the baseline for comparisons)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_json, load_yaml
from pipeline.git import show


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
