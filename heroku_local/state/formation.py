"""Formation: how many dynos of each process type run, at which size, from which image.

`PATCH /apps/{app}/formation` takes `{"updates": [...]}`. An update with `docker_image` (only in the
`docker-releases` API variant) releases that image: new images make a release "Deployed web
(<12-hex>)"; the same images again make none and answer a Warning-Message, as Heroku does. An update
with `quantity` or `size` scales without a release. `quantity` is an integer, or as the official CLI
sends it (`heroku ps:scale web=2 worker+1`) a string: "2" sets, "+1" / "-1" adjusts the current count.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heroku_local.errors import invalid, not_found
from heroku_local.registry.index import ImageRef, RegistryIndex
from heroku_local.state.apps import App, Apps
from heroku_local.state.ids import new_id, stamp
from heroku_local.state.releases import Releases

PROCESS_TYPE = re.compile(r"^[-\w]{1,128}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
SIZES = {"eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l"}
MAX_QUANTITY = 100
_QUANTITY = re.compile(r"^(?P<sign>[+-]?)(?P<count>\d{1,4})$")
UPDATE_KEYS = {"type", "docker_image", "quantity", "size", "dyno_size"}


@dataclass
class Formation:
    type: str
    quantity: int
    size: str
    id: str = field(default_factory=new_id)
    command: str = ""
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass(frozen=True)
class Scale:
    """A checked scale request: an absolute count, or a change to the current one (`relative`)."""

    quantity: int | None = None
    relative: bool = False
    size: str | None = None

    def count(self, current: int) -> int:
        assert self.quantity is not None
        return current + self.quantity if self.relative else self.quantity


def parse_quantity(i: int, value: Any) -> tuple[int, bool]:
    """(count, relative) from an integer or the CLI's strings "2", "+1", "-1"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value, False
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    if match is None:
        raise invalid(
            f"Invalid params: updates[{i}].quantity must be an integer 0..{MAX_QUANTITY}, "
            'or a string such as "2", "+1" or "-1"'
        )
    count = int(match["count"])
    if match["sign"]:
        return (count if match["sign"] == "+" else -count), True
    return count, False


def parse_size(i: int, update: dict[str, Any]) -> str | None:
    size = update.get("size")
    if size is None and isinstance(update.get("dyno_size"), dict):
        size = update["dyno_size"].get("name")
    if size is None:
        return None
    if not isinstance(size, str) or size.lower() not in SIZES:
        raise invalid(f"Invalid params: updates[{i}] has an unknown dyno size {size!r}; use one of {sorted(SIZES)}")
    return size


class FormationService:
    def __init__(
        self,
        apps: Apps,
        releases: Releases,
        index: RegistryIndex,
        default_size: str,
        rescale: Callable[[App], None],
    ) -> None:
        self.apps, self.releases, self.index = apps, releases, index
        self.default_size = default_size
        self.rescale = rescale  # delivery: start or stop dynos to match a new quantity

    def all(self, ident: str) -> list[Formation]:
        app = self.apps.get(ident)
        with self.apps.lock:
            return sorted(app.formation.values(), key=lambda f: f.type)

    def get(self, ident: str, ptype: str) -> Formation:
        app = self.apps.get(ident)
        with self.apps.lock:
            found = app.formation.get(ptype) or next((f for f in app.formation.values() if f.id == ptype), None)
        if found is None:
            raise not_found("formation")
        return found

    def update(self, ident: str, updates: Any, docker_variant: bool) -> tuple[list[Formation], str | None]:
        """Apply a batch update; returns the whole formation and Heroku's Warning-Message, if any."""
        app = self.apps.get(ident)
        if app.stack != "container":
            raise invalid(
                f"App {app.name} is on the {app.stack} stack; docker images can only be released to apps "
                "on the container stack"
            )
        if not isinstance(updates, list) or not updates:
            raise invalid(
                'Invalid params: updates must be a non-empty list of formation updates, sent as {"updates": [...]}'
            )
        images: dict[str, ImageRef] = {}
        scales: dict[str, Scale] = {}
        for i, update in enumerate(updates):
            ptype = self._checked_type(i, update)
            if "docker_image" in update:
                images[ptype] = self._image(app, i, update["docker_image"], docker_variant)
            size = parse_size(i, update)
            if "quantity" in update:
                count, relative = parse_quantity(i, update["quantity"])
                scales[ptype] = Scale(count, relative, size)
            elif size is not None:
                scales[ptype] = Scale(size=size)
        with self.apps.lock:
            # Every count is checked before any is changed: a refused batch changes nothing.
            planned = [self._planned(app, ptype, scale) for ptype, scale in scales.items()]
            for ptype, count, size in planned:
                changed = app.formation.setdefault(ptype, Formation(ptype, count, size))
                changed.quantity, changed.size, changed.updated_at = count, size, stamp()
            warning = self._release(app, images) if images else None
            formation = sorted(app.formation.values(), key=lambda f: f.type)
        if scales and not images:
            self.rescale(app)
        return formation, warning

    def update_one(self, ident: str, ptype: str, body: dict[str, Any], docker_variant: bool) -> Formation:
        self.update(ident, [{**body, "type": ptype}], docker_variant)
        return self.get(ident, ptype)

    @staticmethod
    def _checked_type(i: int, update: Any) -> str:
        if not isinstance(update, dict) or not PROCESS_TYPE.match(str(update.get("type", ""))):
            raise invalid(f"Invalid params: updates[{i}].type must match {PROCESS_TYPE.pattern}")
        unknown = set(update) - UPDATE_KEYS
        if unknown:
            raise invalid(f"Invalid params: updates[{i}] has unknown keys {sorted(unknown)}")
        return str(update["type"])

    def _image(self, app: App, i: int, digest: Any, docker_variant: bool) -> ImageRef:
        if not docker_variant:
            raise invalid(
                "Invalid params: docker_image is only accepted with "
                "Accept: application/vnd.heroku+json; version=3.docker-releases"
            )
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise invalid(
                f"Invalid params: updates[{i}].docker_image must be an image id such as sha256:<64 hex digits>"
            )
        ref = self.index.find(app.name, digest)
        if ref is None:
            raise invalid(
                f"Couldn't find the docker image {digest[:19]} in {app.name}'s registry repositories; push it first"
            )
        return ref

    def _planned(self, app: App, ptype: str, scale: Scale) -> tuple[str, int, str]:
        """Called with the lock held: (type, quantity, size) after `scale`, a relative change checked
        against the count it changes."""
        before = app.formation.get(ptype)
        count = before.quantity if before else 0
        if scale.quantity is not None:
            count = scale.count(count)
            if not 0 <= count <= MAX_QUANTITY:
                raise invalid(
                    f"Invalid params: {ptype} would run {count} dynos; the quantity must be 0..{MAX_QUANTITY}"
                )
        return ptype, count, scale.size or (before.size if before else self.default_size)

    def _release(self, app: App, images: dict[str, ImageRef]) -> str | None:
        """Called with the lock held: release the images that differ from what runs, or warn."""
        current = app.current.images if app.current else {}
        changed = {
            t: ref for t, ref in images.items() if t not in current or current[t].config_digest != ref.config_digest
        }
        if not changed:
            return " ".join(
                f"The process type {t} was not updated, because it is already running the specified docker image."
                for t in sorted(images)
            )
        for ptype in changed:
            if ptype != "release" and ptype not in app.formation:
                app.formation[ptype] = Formation(ptype, 1 if ptype == "web" else 0, self.default_size)
        described = ", ".join(f"{t} ({ref.config_digest[7:19]})" for t, ref in sorted(changed.items()))
        self.releases.create(app, f"Deployed {described}", {**current, **images}, dict(app.config_vars))
        return None
