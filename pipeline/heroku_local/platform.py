"""The control plane: apps, formation, releases, dynos, config vars and logs, with Heroku's semantics.

- A formation update with new images creates a release ("Deployed web (<12-hex>)"); the same
  images again create none and answer a Warning-Message, as Heroku does.
- A release with a `release` image runs the release phase first (status `pending`); a failing
  release command marks it `failed` and leaves the current release serving.
- A live release restarts the formation: old dynos get SIGTERM (SIGKILL after the stop timeout),
  new ones boot; a web dyno that does not bind $PORT within the boot timeout gets R10 and crashes.
- Rollback creates a new release with the target's images and config vars.
Crashed dynos stay crashed until the next release or restart (Heroku would retry with a cool-off).
Each app delivers its releases one at a time on its own worker thread.
"""

from __future__ import annotations

import logging
import queue
import random
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.heroku_local.runtime import DockerRuntime, ImageRef, RuntimeFailure, RuntimeRules, reachable

log = logging.getLogger("pipeline.heroku_local")

APP_NAME = re.compile(r"^[a-z][a-z0-9-]{1,28}[a-z0-9]$")
PROCESS_TYPE = re.compile(r"^[-\w]{1,128}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SIZES = {"eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l"}


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uuid() -> str:
    return str(uuid.uuid4())


class PlatformError(Exception):
    def __init__(self, status: int, error_id: str, message: str, resource: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message, self.resource = status, error_id, message, resource

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.error_id, "message": self.message}
        if self.resource:
            out["resource"] = self.resource
        return out


class RegistryIndex:
    """Which image config digests each app's repositories hold (fed by the registry front)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: dict[str, dict[str, ImageRef]] = {}

    def add(self, app: str, ref: ImageRef) -> None:
        with self._lock:
            self._images.setdefault(app, {})[ref.config_digest] = ref

    def find(self, app: str, config_digest: str) -> ImageRef | None:
        with self._lock:
            return self._images.get(app, {}).get(config_digest)


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
    id: str = field(default_factory=_uuid)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    output: ReleaseOutput | None = None


@dataclass
class Formation:
    type: str
    quantity: int
    size: str
    id: str = field(default_factory=_uuid)
    command: str = ""
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)


@dataclass
class Dyno:
    name: str
    type: str
    release: Release
    size: str
    state: str = "starting"
    command: str = ""
    id: str = field(default_factory=_uuid)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    container: Any = None
    host_port: int | None = None
    stopping: bool = False
    finished: threading.Event = field(default_factory=threading.Event)


@dataclass
class App:
    name: str
    stack: str
    web_url: str = ""
    id: str = field(default_factory=_uuid)
    created_at: str = field(default_factory=stamp)
    updated_at: str = field(default_factory=stamp)
    released_at: str | None = None
    maintenance: bool = False
    boot_timeout: float | None = None
    formation: dict[str, Formation] = field(default_factory=dict)
    config_vars: dict[str, str] = field(default_factory=dict)
    releases: list[Release] = field(default_factory=list)
    current: Release | None = None
    dynos: dict[str, Dyno] = field(default_factory=dict)
    logs: deque[str] = field(default_factory=lambda: deque(maxlen=2000))
    jobs: queue.Queue[Callable[[], None] | None] = field(default_factory=queue.Queue)


@dataclass
class LogSession:
    id: str
    app: str
    dyno: str | None
    source: str | None
    lines: int
    created_at: str = field(default_factory=stamp)


class Platform:
    def __init__(
        self,
        runtime: DockerRuntime | None,
        index: RegistryIndex,
        rules: RuntimeRules,
        email: str = "heroku-local@localhost",
    ) -> None:
        self.runtime = runtime
        self.index = index
        self.rules = rules
        self.email = email
        self.user_id = str(uuid.uuid5(uuid.NAMESPACE_DNS, email))
        self.lock = threading.RLock()
        self.apps: dict[str, App] = {}
        self.sessions: dict[str, LogSession] = {}
        self.on_app_created: Callable[[App], str] | None = None
        self.on_app_deleted: Callable[[App], None] | None = None

    # -- apps ----------------------------------------------------------------------------------

    def app(self, ident: str) -> App:
        with self.lock:
            found = self.apps.get(ident) or next((a for a in self.apps.values() if a.id == ident), None)
        if found is None:
            raise PlatformError(404, "not_found", "Couldn't find that app.", resource="app")
        return found

    def create_app(
        self, name: str | None = None, stack: str | None = None, boot_timeout: float | None = None
    ) -> App:
        """`boot_timeout` overrides the default for this app, as Heroku support can raise it per app."""
        name = name or f"app-{uuid.uuid4().hex[:8]}"
        if not APP_NAME.match(name):
            raise PlatformError(
                422,
                "invalid_params",
                f"Name {name!r} must start with a letter, end with a letter "
                "or digit and can only contain lowercase letters, digits, and dashes.",
            )
        with self.lock:
            if name in self.apps:
                raise PlatformError(422, "invalid_params", "Name is already taken")
            app = App(name=name, stack=stack or "container", boot_timeout=boot_timeout)
            self.apps[name] = app
        if self.on_app_created is not None:
            app.web_url = self.on_app_created(app)
        threading.Thread(target=self._work, args=(app,), name=f"hl-{name}-releases", daemon=True).start()
        return app

    def update_app(self, ident: str, body: dict[str, Any]) -> App:
        app = self.app(ident)
        with self.lock:
            stack = body.get("build_stack")
            if stack is not None:
                app.stack = str(stack.get("name") if isinstance(stack, dict) else stack)
            if "maintenance" in body:
                app.maintenance = bool(body["maintenance"])
            app.updated_at = stamp()
        return app

    def delete_app(self, ident: str) -> App:
        app = self.app(ident)
        with self.lock:
            del self.apps[app.name]
        self._retire(app)
        if self.on_app_deleted is not None:
            self.on_app_deleted(app)
        return app

    def shutdown(self) -> None:
        with self.lock:
            apps = list(self.apps.values())
        for app in apps:
            self._retire(app, stop_timeout=min(self.rules.stop_timeout, 2.0))

    def _retire(self, app: App, stop_timeout: float | None = None) -> None:
        app.jobs.put(None)
        with self.lock:
            dynos = list(app.dynos.values())
            app.dynos.clear()
        self._stop_all(app, dynos, stop_timeout)

    # -- formation -----------------------------------------------------------------------------

    def update_formation(
        self, ident: str, updates: Any, docker_variant: bool
    ) -> tuple[list[Formation], str | None]:
        app = self.app(ident)
        self._require_container(app)
        if not isinstance(updates, list) or not updates:
            raise PlatformError(
                422,
                "invalid_params",
                "Invalid params: updates must be a non-empty list of "
                'formation updates, sent as {"updates": [...]}',
            )
        images: dict[str, ImageRef] = {}
        scale: dict[str, dict[str, Any]] = {}
        for i, update in enumerate(updates):
            if not isinstance(update, dict) or not PROCESS_TYPE.match(str(update.get("type", ""))):
                raise PlatformError(
                    422, "invalid_params", f"Invalid params: updates[{i}].type must match ^[-\\w]{{1,128}}$"
                )
            ptype = str(update["type"])
            unknown = set(update) - {"type", "docker_image", "quantity", "size", "dyno_size"}
            if unknown:
                raise PlatformError(
                    422, "invalid_params", f"Invalid params: updates[{i}] has unknown keys {sorted(unknown)}"
                )
            if "docker_image" in update:
                images[ptype] = self._image(app, i, update["docker_image"], docker_variant)
            change = {k: update[k] for k in ("quantity", "size", "dyno_size") if k in update}
            if change:
                scale[ptype] = self._checked_scale(i, change)
        warning = None
        with self.lock:
            for ptype, change in scale.items():
                self._apply_scale(app, ptype, change)
            if images:
                current = app.current.images if app.current else {}
                changed = {
                    t: ref
                    for t, ref in images.items()
                    if t not in current or current[t].config_digest != ref.config_digest
                }
                if not changed:
                    warning = " ".join(
                        f"The process type {t} was not updated, because it is already running the "
                        "specified docker image."
                        for t in sorted(images)
                    )
                else:
                    for ptype in changed:
                        if ptype != "release" and ptype not in app.formation:
                            app.formation[ptype] = Formation(
                                ptype, 1 if ptype == "web" else 0, self.rules.default_size
                            )
                    described = ", ".join(
                        f"{t} ({ref.config_digest[7:19]})" for t, ref in sorted(changed.items())
                    )
                    self._new_release(
                        app, f"Deployed {described}", {**current, **images}, dict(app.config_vars)
                    )
            formation = self._formation_list(app)
        if scale and not images:
            app.jobs.put(lambda: self._scale(app))
        return formation, warning

    def update_one_formation(
        self, ident: str, ptype: str, body: dict[str, Any], docker_variant: bool
    ) -> Formation:
        self.update_formation(ident, [{**body, "type": ptype}], docker_variant)
        return self.formation_of(ident, ptype)

    def formation(self, ident: str) -> list[Formation]:
        app = self.app(ident)
        with self.lock:
            return self._formation_list(app)

    def formation_of(self, ident: str, ptype: str) -> Formation:
        app = self.app(ident)
        with self.lock:
            found = app.formation.get(ptype) or next(
                (f for f in app.formation.values() if f.id == ptype), None
            )
        if found is None:
            raise PlatformError(404, "not_found", "Couldn't find that formation.", resource="formation")
        return found

    @staticmethod
    def _formation_list(app: App) -> list[Formation]:
        return sorted(app.formation.values(), key=lambda f: f.type)

    def _require_container(self, app: App) -> None:
        if app.stack != "container":
            raise PlatformError(
                422,
                "invalid_params",
                f"App {app.name} is on the {app.stack} stack; "
                "docker images can only be released to apps on the container stack",
            )

    def _image(self, app: App, i: int, digest: Any, docker_variant: bool) -> ImageRef:
        if not docker_variant:
            raise PlatformError(
                422,
                "invalid_params",
                "Invalid params: docker_image is only accepted with "
                "Accept: application/vnd.heroku+json; version=3.docker-releases",
            )
        if not isinstance(digest, str) or not DIGEST.match(digest):
            raise PlatformError(
                422,
                "invalid_params",
                f"Invalid params: updates[{i}].docker_image must be an "
                "image id such as sha256:<64 hex digits>",
            )
        ref = self.index.find(app.name, digest)
        if ref is None:
            raise PlatformError(
                422,
                "invalid_params",
                f"Couldn't find the docker image {digest[:19]} in "
                f"{app.name}'s registry repositories; push it first",
            )
        return ref

    @staticmethod
    def _checked_scale(i: int, change: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if "quantity" in change:
            quantity = change["quantity"]
            if not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 <= quantity <= 100:
                raise PlatformError(
                    422, "invalid_params", f"Invalid params: updates[{i}].quantity must be 0..100"
                )
            out["quantity"] = quantity
        size = change.get("size")
        if size is None and isinstance(change.get("dyno_size"), dict):
            size = change["dyno_size"].get("name")
        if size is not None:
            if str(size).lower() not in SIZES:
                raise PlatformError(422, "invalid_params", f"Invalid params: unknown dyno size {size!r}")
            out["size"] = str(size)
        return out

    def _apply_scale(self, app: App, ptype: str, change: dict[str, Any]) -> None:
        formation = app.formation.setdefault(ptype, Formation(ptype, 0, self.rules.default_size))
        formation.quantity = change.get("quantity", formation.quantity)
        formation.size = change.get("size", formation.size)
        formation.updated_at = stamp()

    # -- releases ------------------------------------------------------------------------------

    def releases(self, ident: str) -> list[Release]:
        app = self.app(ident)
        with self.lock:
            return list(app.releases)

    def release(self, ident: str, release: str) -> Release:
        app = self.app(ident)
        wanted = release.lstrip("v")
        with self.lock:
            found = next((r for r in app.releases if r.id == release or str(r.version) == wanted), None)
        if found is None:
            raise PlatformError(404, "not_found", "Couldn't find that release.", resource="release")
        return found

    def is_current(self, app: App, release: Release) -> bool:
        return app.current is release

    def rollback(self, ident: str, release_id: Any) -> Release:
        app = self.app(ident)
        if not isinstance(release_id, str) or not re.fullmatch(r"[0-9a-f-]{36}", release_id):
            raise PlatformError(422, "invalid_params", "Invalid params: release must be a release id (uuid)")
        target = self.release(app.name, release_id)
        if target.status != "succeeded":
            raise PlatformError(
                422, "invalid_params", f"Cannot roll back to v{target.version}: its status is {target.status}"
            )
        with self.lock:
            app.config_vars = dict(target.config)
            return self._new_release(
                app, f"Rollback to v{target.version}", dict(target.images), dict(target.config)
            )

    def _new_release(
        self, app: App, description: str, images: dict[str, ImageRef], config: dict[str, str]
    ) -> Release:
        """Called with the lock held: record the release and queue its delivery."""
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
            self._go_live(app, release)
        self.log(app, "app", "api", f"Release v{version} created by user {self.email}")
        self.log(app, "app", "api", f"{description} by user {self.email}")
        app.jobs.put(lambda: self._deliver(app, release))
        return release

    def _go_live(self, app: App, release: Release) -> None:
        app.current = release
        app.released_at = release.updated_at = stamp()

    # -- config vars ---------------------------------------------------------------------------

    def config(self, ident: str) -> dict[str, str]:
        app = self.app(ident)
        with self.lock:
            return dict(app.config_vars)

    def update_config(self, ident: str, changes: Any) -> dict[str, str]:
        app = self.app(ident)
        if not isinstance(changes, dict) or not all(
            isinstance(k, str) and CONFIG_KEY.match(k) for k in changes
        ):
            raise PlatformError(
                422, "invalid_params", "Invalid params: send an object of NAME: value (null removes)"
            )
        if not all(v is None or isinstance(v, str) for v in changes.values()):
            raise PlatformError(
                422, "invalid_params", "Invalid params: config var values must be strings or null"
            )
        with self.lock:
            config = dict(app.config_vars)
            for key, value in changes.items():
                if value is None:
                    config.pop(key, None)
                else:
                    config[key] = value
            app.config_vars = config
            set_keys = sorted(k for k, v in changes.items() if v is not None)
            removed = sorted(k for k, v in changes.items() if v is None)
            words = [f"Set {', '.join(set_keys)}"] if set_keys else []
            words += [f"Remove {', '.join(removed)}"] if removed else []
            images = dict(app.current.images) if app.current else {}
            self._new_release(app, " and ".join(words) + " config vars", images, dict(config))
            return dict(config)

    # -- dynos ---------------------------------------------------------------------------------

    def dynos(self, ident: str) -> list[Dyno]:
        app = self.app(ident)
        with self.lock:
            return sorted(app.dynos.values(), key=lambda d: d.name)

    def dyno(self, ident: str, name: str) -> Dyno:
        app = self.app(ident)
        with self.lock:
            found = app.dynos.get(name) or next((d for d in app.dynos.values() if d.id == name), None)
        if found is None:
            raise PlatformError(404, "not_found", "Couldn't find that dyno.", resource="dyno")
        return found

    def restart(self, ident: str) -> None:
        app = self.app(ident)
        with self.lock:
            current = app.current
        if current is not None:
            app.jobs.put(lambda: self._restart(app, current))

    def routable(self, name: str) -> tuple[list[int], bool]:
        """Host ports of the app's up web dynos, and whether it has any web dynos at all."""
        with self.lock:
            app = self.apps.get(name)
            if app is None:
                return [], False
            web = [d for d in app.dynos.values() if d.type == "web"]
            return [d.host_port for d in web if d.state == "up" and d.host_port], bool(web)

    # -- logs ----------------------------------------------------------------------------------

    def log(self, app: App, source: str, dyno: str, text: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        app.logs.append(f"{now} {source}[{dyno}]: {text}")

    def create_log_session(self, ident: str, body: dict[str, Any], base_url: str) -> tuple[LogSession, str]:
        app = self.app(ident)
        lines = body.get("lines", 100)
        if not isinstance(lines, int) or not 1 <= lines <= 1500:
            raise PlatformError(422, "invalid_params", "Invalid params: lines must be 1..1500")
        session = LogSession(_uuid(), app.name, body.get("dyno"), body.get("source"), lines)
        with self.lock:
            self.sessions[session.id] = session
        return session, f"{base_url}/logs/{session.id}"

    def session_lines(self, session_id: str) -> list[str]:
        with self.lock:
            session = self.sessions.get(session_id)
        if session is None:
            raise PlatformError(404, "not_found", "Couldn't find that log session.")
        app = self.app(session.app)
        lines = list(app.logs)
        if session.source:
            lines = [ln for ln in lines if f" {session.source}[" in ln]
        if session.dyno:
            lines = [ln for ln in lines if f"[{session.dyno}]" in ln or f"[{session.dyno}." in ln]
        return lines[-session.lines :]

    # -- delivery (runs on the app's worker thread) ------------------------------------------------

    def _work(self, app: App) -> None:
        while True:
            job = app.jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a bug here must not kill the app's worker
                log.exception("heroku-local: delivery job for %s failed", app.name)

    def _deliver(self, app: App, release: Release) -> None:
        if release.status == "pending":
            ok = self._release_phase(app, release)
            with self.lock:
                release.status = "succeeded" if ok else "failed"
                release.updated_at = stamp()
                if ok:
                    self._go_live(app, release)
            if not ok:
                self.log(
                    app,
                    "heroku",
                    "release",
                    f"Release v{release.version} failed; v"
                    f"{app.current.version if app.current else 0} keeps running",
                )
                return
        with self.lock:
            still_current = app.current is release
        if still_current:
            self._restart(app, release)

    def _release_phase(self, app: App, release: Release) -> bool:
        assert release.output is not None
        output = release.output
        image = release.images["release"]
        dyno = Dyno(f"release.{random.randint(1000, 9999)}", "release", release, self.rules.default_size)  # noqa: S311
        with self.lock:
            app.dynos[dyno.name] = dyno
        try:
            if self.runtime is None:
                raise RuntimeFailure("Error: no Docker engine")
            attrs = self.runtime.image(image)
            self.log(
                app,
                "heroku",
                dyno.name,
                "Starting process with command "
                f"`{' '.join(self.runtime.command(attrs) or attrs['Config'].get('Cmd') or [])}`",
            )
            container = self.runtime.start(
                app.name, dyno.name, attrs, {**release.config, "DYNO": dyno.name}, dyno.size, None
            )
        except Exception as exc:
            output.write(str(exc))
            output.close()
            self.log(app, "heroku", dyno.name, str(exc))
            with self.lock:
                app.dynos.pop(dyno.name, None)
            return False
        dyno.container, dyno.state = container, "up"
        output.start()
        follower = threading.Thread(target=self._follow_output, args=(app, dyno, output), daemon=True)
        follower.start()
        try:
            code, _ = self.runtime.wait(container, timeout=self.rules.release_timeout)
        except Exception:
            self.log(app, "heroku", dyno.name, "Release command timed out; Stopping process with SIGKILL")
            self.runtime.kill(container)
            code = 137
        follower.join(timeout=5)
        self.log(app, "heroku", dyno.name, f"Process exited with status {code}")
        output.close()
        self.runtime.remove(container)
        with self.lock:
            app.dynos.pop(dyno.name, None)
        return code == 0

    def _follow_output(self, app: App, dyno: Dyno, output: ReleaseOutput | None = None) -> None:
        assert self.runtime is not None
        for line in self.runtime.output(dyno.container):
            if output is not None:
                output.write(line)
            self.log(app, "app", dyno.name, line)

    def _restart(self, app: App, release: Release) -> None:
        with self.lock:
            old = [d for d in app.dynos.values() if d.type != "release"]
        self._stop_all(app, old)
        with self.lock:
            for dyno in old:
                if app.dynos.get(dyno.name) is dyno:
                    del app.dynos[dyno.name]
            plan = [
                (f.type, n, f.size)
                for f in self._formation_list(app)
                if f.type != "release" and f.type in release.images
                for n in range(1, f.quantity + 1)
            ]
        for ptype, n, size in plan:
            self._start_dyno(app, release, ptype, n, size)

    def _scale(self, app: App) -> None:
        with self.lock:
            release = app.current
            if release is None:
                return
            extra = [
                d
                for d in app.dynos.values()
                if d.type != "release"
                and (
                    d.type not in app.formation
                    or int(d.name.rsplit(".", 1)[1]) > app.formation[d.type].quantity
                )
            ]
            missing = [
                (f.type, n, f.size)
                for f in self._formation_list(app)
                if f.type in release.images and f.type != "release"
                for n in range(1, f.quantity + 1)
                if f"{f.type}.{n}" not in app.dynos
            ]
        self._stop_all(app, extra)
        with self.lock:
            for dyno in extra:
                app.dynos.pop(dyno.name, None)
        for ptype, n, size in missing:
            self._start_dyno(app, release, ptype, n, size)

    def _stop_all(self, app: App, dynos: list[Dyno], timeout: float | None = None) -> None:
        threads = [
            threading.Thread(target=self._stop_dyno, args=(app, d, timeout), daemon=True) for d in dynos
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _stop_dyno(self, app: App, dyno: Dyno, timeout: float | None = None) -> None:
        dyno.stopping = True
        if dyno.container is not None and not dyno.finished.is_set() and self.runtime is not None:
            self.log(app, "heroku", dyno.name, "Stopping all processes with SIGTERM")
            self.runtime.stop(dyno.container, timeout)
        dyno.finished.wait(timeout=(self.rules.stop_timeout if timeout is None else timeout) + 15)

    def _set_state(self, app: App, dyno: Dyno, state: str) -> None:
        with self.lock:
            before, dyno.state, dyno.updated_at = dyno.state, state, stamp()
        if before != state:
            self.log(app, "heroku", dyno.name, f"State changed from {before} to {state}")

    def _start_dyno(self, app: App, release: Release, ptype: str, n: int, size: str) -> None:
        dyno = Dyno(f"{ptype}.{n}", ptype, release, size)
        with self.lock:
            app.dynos[dyno.name] = dyno
        threading.Thread(
            target=self._run_dyno, args=(app, dyno), name=f"hl-{app.name}-{dyno.name}", daemon=True
        ).start()

    def _run_dyno(self, app: App, dyno: Dyno) -> None:
        try:
            self._boot_and_watch(app, dyno)
        except Exception as exc:
            log.debug("dyno %s of %s failed", dyno.name, app.name, exc_info=True)
            self.log(app, "heroku", dyno.name, f"Error: {exc}")
            self._set_state(app, dyno, "crashed")
        finally:
            if dyno.container is not None and self.runtime is not None:
                self.runtime.remove(dyno.container)
            dyno.finished.set()

    def _boot_and_watch(self, app: App, dyno: Dyno) -> None:
        if self.runtime is None:
            raise RuntimeFailure("no Docker engine")
        runtime = self.runtime
        image = dyno.release.images[dyno.type]
        attrs = runtime.image(image)
        if (attrs.get("Os"), attrs.get("Architecture")) != ("linux", "amd64"):
            self.log(app, "heroku", dyno.name, "Error: Exec format error")
            self.log(app, "heroku", dyno.name, "Process exited with status 126")
            self._set_state(app, dyno, "crashed")
            return
        web = dyno.type == "web"
        port = random.randint(3000, 60000) if web else None  # noqa: S311
        env = {**dyno.release.config, "DYNO": dyno.name, **({"PORT": str(port)} if port else {})}
        shown = runtime.command(attrs) or [
            *(attrs["Config"].get("Entrypoint") or []),
            *(attrs["Config"].get("Cmd") or []),
        ]
        dyno.command = " ".join(shown)
        self.log(app, "heroku", dyno.name, f"Starting process with command `{dyno.command}`")
        if dyno.stopping:
            return
        dyno.container = runtime.start(app.name, dyno.name, attrs, env, dyno.size, port)
        threading.Thread(target=self._follow_output, args=(app, dyno), daemon=True).start()
        exited = threading.Event()
        outcome: dict[str, Any] = {}

        def wait() -> None:
            try:
                outcome["code"], outcome["oom"] = runtime.wait(dyno.container)
            except Exception:
                outcome["code"], outcome["oom"] = 137, False
            exited.set()

        threading.Thread(target=wait, daemon=True).start()
        if web and port is not None:
            dyno.host_port = runtime.host_port(dyno.container, port)
            boot_timeout = app.boot_timeout or self.rules.boot_timeout
            booted_at = time.monotonic()
            while not exited.is_set() and not dyno.stopping:
                addresses = runtime.bound(dyno.container, port)
                if reachable(addresses):
                    self._set_state(app, dyno, "up")
                    break
                if time.monotonic() - booted_at > boot_timeout:
                    hint = (
                        f" (it listens on {', '.join(sorted(addresses))} only; bind 0.0.0.0)"
                        if addresses
                        else ""
                    )
                    self.log(
                        app,
                        "heroku",
                        dyno.name,
                        "Error R10 (Boot timeout) -> Web process failed to bind to "
                        f"$PORT within {boot_timeout:g} seconds of launch{hint}",
                    )
                    self.log(app, "heroku", dyno.name, "Stopping process with SIGKILL")
                    runtime.kill(dyno.container)
                    break
                exited.wait(0.1)
        elif not exited.is_set():
            self._set_state(app, dyno, "up")
        if dyno.stopping and not exited.is_set():
            runtime.stop(dyno.container)  # a stop that raced the boot
        exited.wait()
        code, oom = outcome["code"], outcome["oom"]
        if oom:
            self.log(app, "heroku", dyno.name, "Error R15 (Memory quota vastly exceeded)")
            self.log(app, "heroku", dyno.name, "Stopping process with SIGKILL")
        self.log(app, "heroku", dyno.name, f"Process exited with status {code}")
        self._set_state(app, dyno, "down" if dyno.stopping else "crashed")
