"""Small file helpers shared by the stages: atomic writes, so a failed run never leaves half a file
or a mismatched set of files."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary sibling, then rename: readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        # mkstemp creates 0600; give the file the mode a plain open() would have.
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def replaced_together(*paths: Path) -> Iterator[list[Path]]:
    """Yield temporary siblings of `paths` to write; only when the block succeeds do they replace the
    originals, one rename each after all are written. On any error every original stays as it was, so
    a model and its metadata (or a graph and its proof) never end up from different runs."""
    temps: list[Path] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            os.close(fd)
            temps.append(Path(name))
        yield temps
        mode = 0o666 & ~_umask()
        for tmp in temps:
            tmp.chmod(mode)
        for tmp, path in zip(temps, paths, strict=True):
            os.replace(tmp, path)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(path: Path, data: Any) -> None:
    write_text(path, json_text(data))
