"""Read an image's layers in one streaming pass over `docker save` (the Engine API's image export).

Every layer is read, not only the final filesystem: a secret added in one layer and deleted in the
next still ships inside the image. What is kept: each layer's file list and whiteouts (to rebuild the
final filesystem), small files the caller wants (secrets candidates, package metadata), copied to a
private temporary directory. Nothing is executed and no container is created.
"""

from __future__ import annotations

import io
import json
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from pipeline.errors import DataError

_WHITEOUT = ".wh."
_OPAQUE = ".wh..wh..opq"


@dataclass
class Layer:
    key: str  # the layer's member path inside the saved archive
    index: int = -1
    diff_id: str = ""
    files: dict[str, str] = field(default_factory=dict)  # path -> "file" | "link" | "dir" | "other"
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    kept: dict[str, Path] = field(default_factory=dict)  # path -> copy on disk


@dataclass
class ImageLayers:
    layers: list[Layer]

    @cached_property
    def final_files(self) -> dict[str, int]:
        """Paths present in the final filesystem (not directories) -> index of the layer that wrote them."""
        present: dict[str, tuple[int, str]] = {}
        for layer in self.layers:
            for directory in layer.opaque_dirs:
                prefix = directory + "/"
                for path in [p for p in present if p.startswith(prefix)]:
                    del present[path]
            for gone in layer.whiteouts:
                prefix = gone + "/"
                for path in [p for p in present if p == gone or p.startswith(prefix)]:
                    del present[path]
            for path, kind in layer.files.items():
                present[path] = (layer.index, kind)
        return {path: index for path, (index, kind) in present.items() if kind != "dir"}

    def deleted_later(self, path: str, index: int) -> bool:
        """Is the file written by layer `index` gone or replaced in the final filesystem?"""
        return self.final_files.get(path) != index


Keep = Callable[[str, int], bool]


class _ChunkStream(io.RawIOBase):
    """A file object over the Engine API's chunk iterator, so tarfile can stream it."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._buf))
        buffer[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _normal(name: str) -> str | None:
    path = posixpath.normpath("/" + name).lstrip("/")
    if not path or path == "." or ".." in path.split("/"):
        return None
    return path


def _read_layer(archive: tarfile.TarFile, layer: Layer, keep: Keep, dest: Path) -> None:
    for member in archive:
        path = _normal(member.name)
        if path is None:
            continue
        base = posixpath.basename(path)
        if base == _OPAQUE:
            layer.opaque_dirs.append(posixpath.dirname(path))
            continue
        if base.startswith(_WHITEOUT):
            layer.whiteouts.append(posixpath.join(posixpath.dirname(path), base[len(_WHITEOUT) :]))
            continue
        kind = (
            "dir"
            if member.isdir()
            else "file"
            if member.isfile()
            else "link"
            if member.issym() or member.islnk()
            else "other"
        )
        layer.files[path] = kind
        if kind != "file" or not keep(path, member.size):
            continue
        source = archive.extractfile(member)
        if source is None:
            continue
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read())
        layer.kept[path] = target


def read_saved(chunks: Iterable[bytes], diff_ids: list[str], keep: Keep, workdir: Path) -> ImageLayers:
    """Stream a `docker save` archive (legacy or OCI layout), copying the files `keep(path, size)` selects."""
    found: dict[str, Layer] = {}
    manifest = None
    stream = io.BufferedReader(_ChunkStream(chunks), buffer_size=1 << 20)
    try:
        with tarfile.open(fileobj=stream, mode="r|") as outer:
            for member in outer:
                if not member.isfile():
                    continue
                handle = outer.extractfile(member)
                if handle is None:
                    continue
                if member.name == "manifest.json":
                    manifest = json.loads(handle.read())
                    continue
                if member.name.endswith((".json", "/json", "VERSION", "repositories", "oci-layout")):
                    continue
                layer = Layer(key=member.name)
                try:
                    with tarfile.open(fileobj=handle, mode="r|*") as inner:
                        _read_layer(inner, layer, keep, workdir / f"layer{len(found)}")
                except tarfile.ReadError:
                    continue  # an OCI blob that is a config or manifest, not a layer
                found[member.name] = layer
    except (tarfile.TarError, json.JSONDecodeError, OSError) as exc:
        raise DataError(f"the image archive from the Docker engine could not be read ({exc})") from None
    if not manifest or not isinstance(manifest, list) or "Layers" not in manifest[0]:
        raise DataError(
            "the image archive from the Docker engine has no manifest.json; is the engine too old?"
        )
    order = manifest[0]["Layers"]
    layers = []
    for index, key in enumerate(order):
        if key not in found:
            raise DataError(f"the image archive from the Docker engine lacks layer {key}; was it cut short?")
        layer = found[key]  # a layer listed twice (same content) was read once
        layer = Layer(
            key,
            index,
            diff_ids[index] if index < len(diff_ids) else "",
            layer.files,
            layer.whiteouts,
            layer.opaque_dirs,
            layer.kept,
        )
        layers.append(layer)
    return ImageLayers(layers)
