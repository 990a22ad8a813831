"""Whether a DVC stage's recorded outputs are still the result of its current inputs, read from dvc.lock.

`dvc repro` records in dvc.lock, per stage, its command, the md5 of every dependency and output and the
params it read. When all of them still match the working tree, the outputs on disk are what running the stage
again would produce (every stage here is deterministic; the DVC tier checks that a from-scratch repro records
the committed lock byte for byte), so a gate can reuse the verdict instead of recomputing it. Reading the lock
needs neither DVC nor Great Expectations, whose import alone costs 4-5 s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_yaml

_MISSING = object()


def md5_of(path: Path) -> str:
    """DVC 3's `md5` of a file: the plain MD5 of its bytes."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _lookup(tree: Any, dotted: str) -> Any:
    node = tree
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _files_match(root: Path, entries: Any, what: str) -> str | None:
    for entry in entries or []:
        path, md5 = root / str(entry.get("path", "")), str(entry.get("md5", ""))
        if md5.endswith(".dir"):
            return f"{what} {entry.get('path')} is a directory (only DVC can hash it)"
        if not path.is_file():
            return f"{what} {entry.get('path')} is missing"
        if md5_of(path) != md5:
            return f"{what} {entry.get('path')} changed"
    return None


def _paths(items: Any) -> set[str]:
    """dvc.yaml lists deps/outs as strings or as one-key mappings (`- path: {cache: false}`)."""
    out: set[str] = set()
    for item in items or []:
        out.update([item] if isinstance(item, str) else item.keys() if isinstance(item, Mapping) else [])
    return out


def changed_since_repro(root: Path, stage: str, params_tree: Mapping[str, Any]) -> str | None:
    """None when dvc.lock's record of `stage` matches the working tree, else the first reason it does not.

    `params_tree` is params.yaml as already loaded (and checked) by the caller.
    """
    try:
        lock = load_yaml((root / "dvc.lock").read_text(encoding="utf-8"))
        spec = load_yaml((root / "dvc.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ParseError):
        return "dvc.lock or dvc.yaml cannot be read"
    recorded = (lock or {}).get("stages", {}).get(stage) if isinstance(lock, Mapping) else None
    declared = (spec or {}).get("stages", {}).get(stage) if isinstance(spec, Mapping) else None
    if not isinstance(recorded, Mapping) or not isinstance(declared, Mapping):
        return f"stage {stage!r} has no record in dvc.lock"
    if recorded.get("cmd") != declared.get("cmd"):
        return "its command changed"
    for what in ("deps", "outs"):
        if {str(e.get("path")) for e in recorded.get(what) or []} != _paths(declared.get(what)):
            return f"its {what} in dvc.yaml changed"
        if (reason := _files_match(root, recorded.get(what), "dependency" if what == "deps" else "output")):
            return reason
    for file_params in (recorded.get("params") or {}).values():
        for key, value in (file_params or {}).items():
            if _lookup(params_tree, key) != value:
                return f"param {key} changed"
    declared_params = {p for p in declared.get("params") or [] if isinstance(p, str)}
    recorded_params = {k for fp in (recorded.get("params") or {}).values() for k in fp or {}}
    if declared_params != recorded_params:
        return "its params in dvc.yaml changed"
    return None
