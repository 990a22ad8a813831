"""Releases: every change to what an app runs (images or config vars) is a new numbered release.

A release with a `release` image goes through the release phase first (status `pending`, its output
streamed at `output_stream_url`); any other goes live at once. Rollback makes a new release with the
target's images and config vars. Delivering a release (starting its dynos) is `heroku_local.delivery`'s
job, handed over through `deliver`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from heroku_local.errors import invalid, not_found
from heroku_local.state.ids import new_id, stamp

if TYPE_CHECKING:
    from heroku_local.registry.index import ImageRef
    from heroku_local.state.apps import App, Apps

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class ReleaseOutput:
    """The release command's output, streamed at output_stream_url while it runs."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = False
        self.done = False
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started = True

    def write(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def close(self) -> None:
        self.started = self.done = True

    def read_from(self, index: int) -> tuple[list[str], bool]:
        with self._lock:
            return self.lines[index:], self.done


@dataclass
class Release:
    version: int
    description: str
    images: dict[str, ImageRef]
    config: dict[str, str]
    status: str = "succeeded"
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    output: ReleaseOutput | None = None


Deliver = Callable[["App", Release], None]


class Releases:
    def __init__(self, apps: Apps, email: str, deliver: Deliver) -> None:
        self.apps, self.email, self.deliver = apps, email, deliver

    def all(self, ident: str) -> list[Release]:
        app = self.apps.get(ident)
        with self.apps.lock:
            return list(app.releases)

    def get(self, ident: str, release: str) -> Release:
        """By id or version (`12` or `v12`), as the API's `{release_id_or_version}`."""
        app = self.apps.get(ident)
        wanted = release.lower().removeprefix("v")
        with self.apps.lock:
            found = next((r for r in app.releases if r.id == release or str(r.version) == wanted), None)
        if found is None:
            raise not_found("release")
        return found

    def find_by_id(self, release_id: str) -> Release | None:
        """Any app's release by id: output stream URLs name only the release."""
        with self.apps.lock:
            for app in self.apps.all():
                found = next((r for r in app.releases if r.id == release_id), None)
                if found is not None:
                    return found
        return None

    def rollback(self, ident: str, release_id: Any) -> Release:
        app = self.apps.get(ident)
        if not isinstance(release_id, str) or not _UUID.match(release_id):
            raise invalid("Invalid params: release must be a release id (uuid)")
        target = self.get(app.name, release_id)
        if target.status != "succeeded":
            raise invalid(f"Cannot roll back to v{target.version}: its status is {target.status}")
        with self.apps.lock:
            app.config_vars = dict(target.config)
            return self.create(app, f"Rollback to v{target.version}", dict(target.images), dict(target.config))

    def create(self, app: App, description: str, images: dict[str, ImageRef], config: dict[str, str]) -> Release:
        """Record the next release and hand it to delivery."""
        with self.apps.lock:
            version = (app.releases[-1].version if app.releases else 0) + 1
            phase = "release" in images
            release = Release(
                version,
                description,
                images,
                config,
                status="pending" if phase else "succeeded",
                output=ReleaseOutput() if phase else None,
            )
            app.releases.append(release)
            if not phase:
                self.go_live(app, release)
            app.log.write("app", "api", f"Release v{version} created by user {self.email}")
            app.log.write("app", "api", f"{description} by user {self.email}")
        self.deliver(app, release)
        return release

    def go_live(self, app: App, release: Release) -> None:
        with self.apps.lock:
            app.current = release
            app.released_at = release.updated_at = stamp()

    def finish_phase(self, app: App, release: Release, ok: bool) -> None:
        """The release phase ended: the release goes live, or fails and the current one keeps serving."""
        with self.apps.lock:
            release.status = "succeeded" if ok else "failed"
            release.updated_at = stamp()
            if ok:
                self.go_live(app, release)
