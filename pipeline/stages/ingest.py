"""ingest: copy the configured source into the immutable raw snapshot that DVC hashes.

`data.source: palmerpenguins` takes the CSV that the palmerpenguins package ships, so the
default pipeline needs no network and no credentials.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.io import atomic_write
from pipeline.params import Params
from pipeline.paths import Paths

BUILTIN = "palmerpenguins"


def source_path(source: str, root: Path) -> Path:
    if source == BUILTIN:
        ref = resources.files("palmerpenguins") / "data" / "penguins.csv"
        return Path(str(ref))
    path = Path(source).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ConfigError(f"params.yaml: data.source {source!r} is not a file; give a CSV path or {BUILTIN!r}")
    return path


def run(params: Params, paths: Paths) -> Path:
    src = source_path(params.data.source, paths.root)
    dest = paths.root / params.data.raw
    atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))
    return dest
