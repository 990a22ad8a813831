"""The only module that knows the model artifact format and its integrity check.

Format: a skops file (no pickle: loading it does not execute arbitrary code) plus a JSON
metadata file that records its SHA-256. A file whose hash differs from the metadata is refused.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_server import integrity
from model_server.model_meta import ModelMeta
from pipeline.errors import ModelError
from pipeline.io import json_text, replaced_together

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
    meta: ModelMeta

    @property
    def classes(self) -> list[str]:
        return list(self.meta.classes)

    @property
    def features(self) -> list[str]:
        return list(self.meta.features)


def _reproducible(archive: Path) -> None:
    """Rewrite a skops archive so the same estimator always gives the same bytes.

    skops names array members and object ids after memory addresses and stamps members with the
    current time, so every retrain would change the file's hash and `dvc.lock` even with a fixed
    seed. Both are renumbered in order of first mention in schema.json, with a fixed timestamp.
    """
    with zipfile.ZipFile(archive) as zf:
        members = {info.filename: zf.read(info.filename) for info in zf.infolist()}
    schema = members.pop("schema.json").decode("utf-8")
    order = list(dict.fromkeys(re.findall(r'"([^"/]+\.npy)"', schema)))
    order += [name for name in members if name not in order]
    renames = {old: f"{i:05d}{Path(old).suffix}" for i, old in enumerate(order)}
    schema = re.sub(r'"([^"/]+\.npy)"', lambda m: f'"{renames.get(m.group(1), m.group(1))}"', schema)
    # `__id__` (object identity, used to restore shared references) is an address too.
    ids = {old: str(i) for i, old in enumerate(dict.fromkeys(re.findall(r'"__id__": (\d+)', schema)))}
    schema = re.sub(r'"__id__": (\d+)', lambda m: f'"__id__": {ids[m.group(1)]}', schema)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, payload in [("schema.json", schema.encode("utf-8"))] + [(renames[n], members[n]) for n in order]:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), payload)


def save(estimator: Any, meta: dict[str, Any], model_path: Path, meta_path: Path) -> ModelMeta:
    """Write model and metadata (which names the model's hash) side by side, then replace both at once:
    a failure anywhere leaves the previous pair untouched."""
    import skops.io as sio

    with replaced_together(model_path, meta_path) as (tmp_model, tmp_meta):
        sio.dump(estimator, tmp_model)
        _reproducible(tmp_model)
        full = ModelMeta.model_validate({
            **meta, "format": FORMAT, "sha256": sha256_of(tmp_model), "file": model_path.name,
            # The types beyond skops' own defaults the file needs: `load` trusts exactly these (if they
            # pass TRUSTED_PREFIXES) instead of parsing the archive once more to find them.
            "skops_types": sorted(sio.get_untrusted_types(file=tmp_model)),
        })
        tmp_meta.write_text(json_text(full.to_json()), encoding="utf-8")
    return full


def _unloadable(model_path: Path, exc: Exception) -> ModelError:
    return ModelError(f"{model_path}: cannot be loaded ({type(exc).__name__}: {exc}); retrain it")


def verify(model_path: Path, meta_path: Path) -> ModelMeta:
    """Check the artifact against its recorded hash without loading it."""
    meta = ModelMeta.read(meta_path)
    if not model_path.is_file():
        raise integrity.missing(model_path, "train")
    integrity.check(model_path, sha256_of(model_path), meta.sha256, meta_path)
    return meta


def load(model_path: Path, meta_path: Path) -> LoadedModel:
    """Verify, then load the very bytes that were hashed."""
    import skops.io as sio
    from skops.io.exceptions import UntrustedTypesFoundException

    meta = ModelMeta.read(meta_path)
    data = integrity.verified_bytes(model_path, meta.sha256, meta_path, "train")
    try:
        # Metadata written before the list was recorded: find the types in the archive.
        types = list(meta.skops_types) if meta.skops_types is not None else sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises a range of errors for a corrupt archive
        raise _unloadable(model_path, exc) from None
    refused = [t for t in types if not t.startswith(TRUSTED_PREFIXES)]
    if refused:
        raise ModelError(f"{model_path}: refuses to load types outside scikit-learn/numpy/scipy: {refused[:3]}")
    try:
        # skops refuses, while it loads, any type outside its defaults and this list.
        estimator = sio.loads(data, trusted=types)
    except UntrustedTypesFoundException as exc:
        found = str(exc).splitlines()[0]
        raise ModelError(f"{model_path}: {found} ({meta_path.name} does not list them); retrain it") from None
    except Exception as exc:
        raise _unloadable(model_path, exc) from None
    return LoadedModel(estimator=estimator, meta=meta)
