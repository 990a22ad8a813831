"""The record of the last image built here (reports/image.json), so later steps need no image argument.

`pipeline image build` writes it; `pipeline image run`, `pipeline scan` and `pipeline deploy`
default to the image it names. The build-once, promote-by-digest chain starts from this file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_json
from pipeline.errors import UsageError
from pipeline.io import write_json
from pipeline.paths import Paths


def path(paths: Paths) -> Path:
    return paths.reports / "image.json"


def write(paths: Paths, record: dict[str, Any]) -> Path:
    target = path(paths)
    write_json(target, record)
    return target


def read(paths: Paths) -> dict[str, Any] | None:
    try:
        data = load_json(path(paths).read_bytes())
    except (FileNotFoundError, ParseError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("id"), str) else None


def image_or_last_built(paths: Paths, given: str | None, flag: str = "image") -> str:
    """The image the user named, else the one `pipeline image build` recorded."""
    if given:
        return given
    record = read(paths)
    if record is None:
        raise UsageError(f"no {flag} given and {paths.rel(path(paths))} does not exist; "
                         f"run `pipeline image build` first or pass the {flag}")
    return str(record["id"])
