"""Moving a built image between jobs and runs as an archive: the Docker layer cache of the pull-request
workflow, and the hand-over of the one image that was built, scanned and staged to the jobs that deploy and
promote it. `docker save` keeps the image id (its config digest), so `load(expect_id=...)` proves the image
is the same one.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pipeline.errors import DataError, ExternalError, GateFailed

_IMAGE_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


def client() -> Any:
    import docker
    from docker.errors import DockerException

    try:
        engine = docker.from_env(timeout=300)
        engine.ping()
    except DockerException as exc:
        raise ExternalError(
            f"Docker engine not reachable ({type(exc).__name__}); start Docker "
            "(or `sudo make engine`) and rerun"
        ) from None
    return engine


def save(engine: Any, image: str, dest: Path) -> tuple[str, int]:
    """Write `image` to `dest` (atomically) and return its id and the archive size."""
    from docker.errors import DockerException, ImageNotFound

    try:
        found = engine.images.get(image)
    except ImageNotFound:
        raise DataError(
            f"image {image!r} not found in the Docker engine; build it with `pipeline image build`"
        ) from None
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    try:
        with tmp.open("wb") as fh:
            for chunk in found.save(named=True):
                fh.write(chunk)
        os.replace(tmp, dest)
    except DockerException as exc:
        raise ExternalError(f"saving {image!r} failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return str(found.id), dest.stat().st_size


def load(engine: Any, archive: Path, *, expect_id: str | None = None) -> tuple[str, list[str]]:
    """Load an archive written by `save`; with `expect_id`, refuse any other image."""
    from docker.errors import DockerException

    if expect_id is not None and not _IMAGE_ID.match(expect_id):
        raise DataError(f"expected image id must be sha256:<64 hex>, got {expect_id[:80]!r}")
    if not archive.is_file():
        raise DataError(f"{archive}: image archive not found")
    try:
        with archive.open("rb") as fh:
            images = engine.images.load(fh)
    except DockerException as exc:
        raise DataError(f"{archive}: not a loadable image archive ({type(exc).__name__})") from None
    if len(images) != 1:
        raise DataError(f"{archive}: expected one image, found {len(images)}")
    image = images[0]
    if expect_id is not None and image.id != expect_id:
        raise GateFailed(
            f"{archive}: image id {image.id} is not the expected {expect_id}; refusing to use it"
        )
    return str(image.id), list(image.tags)
