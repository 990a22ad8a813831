"""The only module that knows the model artifact format and its integrity check.

Format: a skops file (no pickle: loading it does not execute arbitrary code) plus a JSON
metadata file that records its SHA-256. A file whose hash differs from the metadata is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ModelError
from pipeline.io import atomic_write, read_json, write_json

FORMAT = "skops"
# Types from these packages may be instantiated on load; anything else in the file is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class LoadedModel:
    estimator: Any
    meta: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.meta["classes"]]

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])


def save(estimator: Any, meta: dict[str, Any], model_path: Path, meta_path: Path) -> dict[str, Any]:
    """Write model then metadata, each atomically; the metadata names the model's hash."""
    import skops.io as sio

    atomic_write(model_path, lambda tmp: sio.dump(estimator, tmp))
    full = {**meta, "format": FORMAT, "sha256": sha256_of(model_path), "file": model_path.name}
    write_json(meta_path, full)
    return full


def verify(model_path: Path, meta_path: Path) -> dict[str, Any]:
    """Check the artifact against its recorded hash without loading it."""
    meta = read_json(meta_path, "model metadata")
    if not isinstance(meta, dict) or "sha256" not in meta:
        raise ModelError(f"{meta_path}: no sha256 recorded; retrain with `dvc repro train`")
    if not model_path.is_file():
        raise ModelError(f"{model_path}: model file not found; run `dvc repro train` or `dvc pull`")
    actual = sha256_of(model_path)
    if actual != meta["sha256"]:
        raise ModelError(
            f"{model_path}: sha256 {actual[:12]} does not match {meta['sha256'][:12]} recorded in "
            f"{meta_path.name}; the file was altered or is from another run, restore it with `dvc checkout`"
        )
    return meta


def load(model_path: Path, meta_path: Path) -> LoadedModel:
    import skops.io as sio

    meta = verify(model_path, meta_path)
    untrusted = sio.get_untrusted_types(file=model_path)
    refused = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelError(f"{model_path}: refuses to load types outside scikit-learn/numpy/scipy: {refused[:3]}")
    try:
        estimator = sio.load(model_path, trusted=untrusted)
    except Exception as exc:  # skops raises a range of errors for a corrupt archive
        raise ModelError(f"{model_path}: cannot be loaded ({type(exc).__name__}: {exc}); retrain it") from None
    return LoadedModel(estimator=estimator, meta=meta)
