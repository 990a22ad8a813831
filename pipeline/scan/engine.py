"""The Docker Engine API calls the scan needs, with their failures turned into one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.errors import DataError, ExternalError

HOW_ENGINE = "start it (`make engine`) or point DOCKER_HOST at a running engine"


def connect() -> Any:
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        reason = str(exc).splitlines()[0][:160]
        raise ExternalError(f"Docker engine unreachable ({reason}); {HOW_ENGINE}") from None
    return client


def get_image(client: Any, ref: str) -> Any:
    from docker.errors import APIError, ImageNotFound

    try:
        return client.images.get(ref)
    except ImageNotFound:
        raise DataError(
            f"image {ref} not found in the Docker engine; build it first (`pipeline image build`) "
            "or fix --image"
        ) from None
    except APIError as exc:
        raise ExternalError(f"Docker engine failed to inspect {ref}: {exc.explanation or exc}") from None


def history(image: Any) -> list[dict[str, Any]]:
    from docker.errors import APIError

    try:
        # The Engine API lists the newest step first; the report numbers steps in build order.
        return list(reversed(image.history()))
    except APIError as exc:
        raise ExternalError(f"Docker engine failed to return the history of {image.id}: {exc}") from None


def save(image: Any) -> Iterator[bytes]:
    import requests
    from docker.errors import DockerException

    try:
        yield from image.save(chunk_size=1 << 20, named=False)
    except (DockerException, requests.RequestException) as exc:
        raise ExternalError(f"Docker engine failed to export {image.id}: {str(exc)[:160]}") from None
