"""Release delivery: each app's releases, restarts and scale changes, done one at a time, in order, on
the app's own worker thread (so a slow boot never blocks the API, and two releases never interleave).

- A release with a `release` image runs the release phase first: a one-off `release.NNNN` dyno whose
  output is streamed at the release's output_stream_url; a non-zero exit fails the release and the
  current one keeps serving.
- A live release restarts the formation: old dynos get SIGTERM (SIGKILL after the stop timeout), new
  ones boot from the release's images and config vars.
- A scale change starts the missing `type.N` dynos and stops the extra ones, without a release.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable

from heroku_local.dynos import DynoLifecycle
from heroku_local.errors import ServiceError, not_found
from heroku_local.runtime import RuntimeFailure
from heroku_local.state.apps import App, Apps
from heroku_local.state.dynos import Dyno
from heroku_local.state.releases import Release, Releases

log = logging.getLogger("heroku_local")

Job = Callable[[], None]


class Delivery:
    def __init__(self, apps: Apps, dynos: DynoLifecycle, default_size: str) -> None:
        self.apps, self.dynos, self.default_size = apps, dynos, default_size
        self.releases: Releases | None = None  # set once built: releases hand their new ones to us
        self._queues: dict[str, queue.Queue[Job | None]] = {}
        self._lock = threading.Lock()

    # -- the worker ----------------------------------------------------------------------------

    def open(self, app: App) -> None:
        jobs: queue.Queue[Job | None] = queue.Queue()
        with self._lock:
            self._queues[app.id] = jobs
        threading.Thread(target=self._work, args=(app, jobs), name=f"hl-{app.name}-releases", daemon=True).start()

    def close(self, app: App, stop_timeout: float | None = None) -> None:
        """Stop the app's worker after what it is doing, and stop every dyno it has."""
        with self._lock:
            jobs = self._queues.pop(app.id, None)
        if jobs is not None:
            jobs.put(None)
        with self.apps.lock:
            dynos = list(app.dynos.values())
        self.dynos.stop_all(app, dynos, stop_timeout)

    def submit(self, app: App, job: Job) -> None:
        with self._lock:
            jobs = self._queues.get(app.id)
        if jobs is not None:
            jobs.put(job)

    def settle(self, app: App, timeout: float) -> None:
        """Block until everything queued for the app so far is done."""
        done = threading.Event()
        self.submit(app, done.set)
        if not done.wait(timeout):
            raise ServiceError(f"heroku-local: {app.name} still delivering releases after {timeout:.0f} s")

    def _work(self, app: App, jobs: queue.Queue[Job | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            try:
                job()
            except Exception:  # a bug here must not kill the app's worker
                log.exception("heroku-local: delivery job for %s failed", app.name)

    # -- what gets queued ----------------------------------------------------------------------

    def deliver(self, app: App, release: Release) -> None:
        self.submit(app, lambda: self._deliver(app, release))

    def rescale(self, app: App) -> None:
        self.submit(app, lambda: self._scale(app))

    def restart(self, app: App, ptype: str | None = None, dyno: str | None = None) -> None:
        """Restart every dyno, those of one process type, or one dyno (as `heroku ps:restart` asks)."""
        with self.apps.lock:
            current = app.current
            if ptype is not None and ptype not in app.formation:
                raise not_found("formation")
        if current is not None:
            self.submit(app, lambda: self._restart(app, current, ptype, dyno))

    # -- the work itself (on the app's worker thread) -------------------------------------------

    def _deliver(self, app: App, release: Release) -> None:
        assert self.releases is not None
        if release.status == "pending":
            ok = self._release_phase(app, release)
            self.releases.finish_phase(app, release, ok)
            if not ok:
                serving = app.current.version if app.current else 0
                app.log.write("heroku", "release", f"Release v{release.version} failed; v{serving} keeps running")
                return
        with self.apps.lock:
            still_current = app.current is release
        if still_current:
            self._restart(app, release)

    def _release_phase(self, app: App, release: Release) -> bool:
        assert release.output is not None
        output, runtime = release.output, self.dynos.runtime
        dyno = Dyno(f"release.{random.randint(1000, 9999)}", "release", release, self.default_size)  # noqa: S311
        with self.apps.lock:
            app.dynos[dyno.name] = dyno
        try:
            if runtime is None:
                raise RuntimeFailure("Error: no Docker engine")
            attrs = runtime.image(release.images["release"])
            shown = runtime.command(attrs) or attrs["Config"].get("Cmd") or []
            app.log.write("heroku", dyno.name, f"Starting process with command `{' '.join(shown)}`")
            env = {**release.config, "DYNO": dyno.name, "HEROKU_RELEASE_VERSION": f"v{release.version}"}
            dyno.container = runtime.start(app.name, dyno.name, attrs, env, dyno.size, None)
        except Exception as exc:
            output.write(str(exc))
            output.close()
            app.log.write("heroku", dyno.name, str(exc))
            with self.apps.lock:
                app.dynos.pop(dyno.name, None)
            return False
        dyno.state = "up"
        output.start()
        follower = threading.Thread(target=self.dynos.follow, args=(app, dyno, output), daemon=True)
        follower.start()
        try:
            code, _ = runtime.wait(dyno.container, timeout=self.dynos.rules.release_timeout)
        except Exception:
            app.log.write("heroku", dyno.name, "Release command timed out; Stopping process with SIGKILL")
            runtime.kill(dyno.container)
            code = 137
        follower.join(timeout=5)
        app.log.write("heroku", dyno.name, f"Process exited with status {code}")
        output.close()
        runtime.remove(dyno.container)
        with self.apps.lock:
            app.dynos.pop(dyno.name, None)
        return code == 0

    def _restart(self, app: App, release: Release, ptype: str | None = None, only: str | None = None) -> None:
        with self.apps.lock:
            old = [
                d
                for d in app.dynos.values()
                if d.type != "release" and (ptype is None or d.type == ptype) and (only is None or d.name == only)
            ]
        self.dynos.stop_all(app, old)
        with self.apps.lock:
            if only is not None:
                plan = [(d.type, d.number, d.size) for d in old if d.type in release.images]
            else:
                plan = [
                    (f.type, n, f.size)
                    for f in sorted(app.formation.values(), key=lambda f: f.type)
                    if f.type != "release" and f.type in release.images and (ptype is None or f.type == ptype)
                    for n in range(1, f.quantity + 1)
                ]
        for kind, n, size in plan:
            self.dynos.start(app, release, kind, n, size)

    def _scale(self, app: App) -> None:
        with self.apps.lock:
            release = app.current
            if release is None:
                return
            extra = [
                d
                for d in app.dynos.values()
                if d.type != "release" and (d.type not in app.formation or d.number > app.formation[d.type].quantity)
            ]
            missing = [
                (f.type, n, f.size)
                for f in sorted(app.formation.values(), key=lambda f: f.type)
                if f.type in release.images and f.type != "release"
                for n in range(1, f.quantity + 1)
                if f"{f.type}.{n}" not in app.dynos
            ]
        self.dynos.stop_all(app, extra)
        for ptype, n, size in missing:
            self.dynos.start(app, release, ptype, n, size)
