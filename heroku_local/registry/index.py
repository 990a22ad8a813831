"""Which image config digests each app's repositories hold: the registry front adds what it accepts, and
the formation API checks `docker_image` against it (Heroku releases only images pushed to the app)."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class ImageRef:
    process_type: str
    repository: str
    config_digest: str  # what Heroku calls the image id, and what `docker_image` names
    manifest_digest: str  # what a dyno pulls by


class RegistryIndex:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, dict[str, ImageRef]] = {}

    def add(self, app: str, ref: ImageRef) -> None:
        with self._lock:
            self._images.setdefault(app, {})[ref.config_digest] = ref

    def find(self, app: str, config_digest: str) -> ImageRef | None:
        with self._lock:
            return self._images.get(app, {}).get(config_digest)
