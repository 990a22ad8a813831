"""ingest: copy the configured source CSV into the immutable raw snapshot that DVC hashes.

`data.source` is a path (relative to the project root, or absolute); dvc.yaml lists it as the stage's
dependency, so editing the source re-runs the pipeline from here. The penguins example ships in the
repository as data/external/penguins.csv, so the default pipeline needs no network and no credentials.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.errors import ConfigError
from pipeline.io import atomic_write
from pipeline.params import Params
from pipeline.paths import Paths


def source_path(source: str, root: Path) -> Path:
    path = Path(source).expanduser()
    path = path if path.is_absolute() else root / path
    if not path.is_file():
        raise ConfigError(f"params.yaml: data.source {source!r} is not a file; give the path of your CSV "
                          "(the penguins example is data/external/penguins.csv)")
    return path


def run(params: Params, paths: Paths) -> Path:
    src = source_path(params.data.source, paths.root)
    dest = paths.root / params.data.raw
    atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))
    return dest
