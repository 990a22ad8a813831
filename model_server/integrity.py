"""Check an artifact against the SHA-256 its metadata recorded, with the one-line errors users see.

Shared by the trained model (pipeline/model.py) and the served one (model_server/served_model.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from model_server.errors import ModelError


def missing(path: Path, produced_by: str) -> ModelError:
    """`produced_by`: the DVC stage that writes the file."""
    return ModelError(f"{path}: model file not found; run `dvc repro {produced_by}` or `dvc pull`")


def check(path: Path, actual: str, recorded: str, meta_path: Path) -> None:
    if actual != recorded:
        raise ModelError(
            f"{path}: sha256 {actual[:12]} does not match {recorded[:12]} recorded in "
            f"{meta_path.name}; the file was altered or is from another run, restore it with `dvc checkout`"
        )


def verified_bytes(path: Path, recorded: str, meta_path: Path, produced_by: str) -> bytes:
    """The file's bytes if their hash is `recorded`. One read: the bytes that were hashed are the
    bytes the caller loads, so a file swapped between check and load cannot slip through."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise missing(path, produced_by) from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror}); check the file and its permissions") from None
    check(path, hashlib.sha256(data).hexdigest(), recorded, meta_path)
    return data
