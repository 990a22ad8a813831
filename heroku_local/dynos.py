"""Dyno lifecycle: boot a dyno as a container, watch it, stop it, as Heroku's dyno manager does.

- A web dyno gets $PORT and must bind it on a routable address within the boot timeout, else R10:
  it is killed and crashes. Other dynos are `up` as soon as they run.
- An image that is not linux/amd64 crashes at once ("Exec format error", status 126).
- Over the size's memory quota the kernel kills it: R15.
- Stopping sends SIGTERM, then SIGKILL after the stop timeout. A stopped dyno is `down`; one that
  exited by itself `crashed` (Heroku would restart it after a cool-off; here it stays crashed until
  the next release or restart).
Each dyno runs on its own thread; its output goes to the app's log as `app[web.1]` lines.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from heroku_local.errors import not_found
from heroku_local.runtime import DockerRuntime, RuntimeFailure, RuntimeRules, reachable
from heroku_local.state.apps import App, Apps
from heroku_local.state.dynos import Dyno
from heroku_local.state.ids import stamp
from heroku_local.state.releases import Release, ReleaseOutput

log = logging.getLogger("heroku_local")


def list_dynos(apps: Apps, ident: str) -> list[Dyno]:
    app = apps.get(ident)
    with apps.lock:
        return sorted(app.dynos.values(), key=lambda d: (d.type, d.number, d.name))


def find_dyno(apps: Apps, ident: str, name: str) -> Dyno:
    app = apps.get(ident)
    with apps.lock:
        found = app.dynos.get(name) or next((d for d in app.dynos.values() if d.id == name), None)
    if found is None:
        raise not_found("dyno")
    return found


def routable(apps: Apps, name: str) -> tuple[list[int], bool]:
    """Host ports of the app's up web dynos, and whether it has any web dynos at all (H10 vs H14)."""
    app = apps.find(name)
    if app is None:
        return [], False
    with apps.lock:
        web = [d for d in app.dynos.values() if d.type == "web"]
        return [d.host_port for d in web if d.state == "up" and d.host_port], bool(web)


class DynoLifecycle:
    def __init__(self, apps: Apps, runtime: DockerRuntime | None, rules: RuntimeRules) -> None:
        self.apps, self.runtime, self.rules = apps, runtime, rules

    def start(self, app: App, release: Release, ptype: str, n: int, size: str) -> Dyno:
        dyno = Dyno(f"{ptype}.{n}", ptype, release, size)
        with self.apps.lock:
            app.dynos[dyno.name] = dyno
        threading.Thread(target=self._run, args=(app, dyno), name=f"hl-{app.name}-{dyno.name}", daemon=True).start()
        return dyno

    def stop_all(self, app: App, dynos: list[Dyno], timeout: float | None = None) -> None:
        """Stop them in parallel (Heroku signals every dyno at once) and forget them."""
        threads = [threading.Thread(target=self._stop, args=(app, d, timeout), daemon=True) for d in dynos]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self.apps.lock:
            for dyno in dynos:
                if app.dynos.get(dyno.name) is dyno:
                    del app.dynos[dyno.name]

    def follow(self, app: App, dyno: Dyno, output: ReleaseOutput | None = None) -> None:
        """Copy the container's output to the app's log (and to the release stream, for the release phase)."""
        assert self.runtime is not None
        for line in self.runtime.output(dyno.container):
            if output is not None:
                output.write(line)
            app.log.write("app", dyno.name, line)

    def _stop(self, app: App, dyno: Dyno, timeout: float | None = None) -> None:
        dyno.stopping = True
        if dyno.container is not None and not dyno.finished.is_set() and self.runtime is not None:
            app.log.write("heroku", dyno.name, "Stopping all processes with SIGTERM")
            self.runtime.stop(dyno.container, timeout)
        dyno.finished.wait(timeout=(self.rules.stop_timeout if timeout is None else timeout) + 15)

    def _set_state(self, app: App, dyno: Dyno, state: str) -> None:
        with self.apps.lock:
            before, dyno.state, dyno.updated_at = dyno.state, state, stamp()
        if before != state:
            app.log.write("heroku", dyno.name, f"State changed from {before} to {state}")

    def _run(self, app: App, dyno: Dyno) -> None:
        try:
            self._boot_and_watch(app, dyno)
        except Exception as exc:
            log.debug("dyno %s of %s failed", dyno.name, app.name, exc_info=True)
            app.log.write("heroku", dyno.name, f"Error: {exc}")
            self._set_state(app, dyno, "crashed")
        finally:
            if dyno.container is not None and self.runtime is not None:
                self.runtime.remove(dyno.container)
            dyno.finished.set()

    def _boot_and_watch(self, app: App, dyno: Dyno) -> None:
        if self.runtime is None:
            raise RuntimeFailure("no Docker engine")
        runtime = self.runtime
        attrs = runtime.image(dyno.release.images[dyno.type])
        if (attrs.get("Os"), attrs.get("Architecture")) != ("linux", "amd64"):
            app.log.write("heroku", dyno.name, "Error: Exec format error")
            app.log.write("heroku", dyno.name, "Process exited with status 126")
            self._set_state(app, dyno, "crashed")
            return
        web = dyno.type == "web"
        port = random.randint(3000, 60000) if web else None  # noqa: S311 - a port, not a secret
        # What Heroku's runtime-dyno-metadata feature sets too: the serving app labels its metrics with the release.
        env = {**dyno.release.config, "DYNO": dyno.name, "HEROKU_RELEASE_VERSION": f"v{dyno.release.version}",
               **({"PORT": str(port)} if port else {})}
        config = attrs["Config"]
        shown = runtime.command(attrs) or [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        dyno.command = " ".join(shown)
        app.log.write("heroku", dyno.name, f"Starting process with command `{dyno.command}`")
        if dyno.stopping:
            return
        dyno.container = runtime.start(app.name, dyno.name, attrs, env, dyno.size, port)
        threading.Thread(target=self.follow, args=(app, dyno), daemon=True).start()
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
            self._wait_for_port(app, dyno, port, exited)
        elif not exited.is_set():
            self._set_state(app, dyno, "up")
        if dyno.stopping and not exited.is_set():
            runtime.stop(dyno.container)  # a stop that raced the boot
        exited.wait()
        if outcome["oom"]:
            app.log.write("heroku", dyno.name, "Error R15 (Memory quota vastly exceeded)")
            app.log.write("heroku", dyno.name, "Stopping process with SIGKILL")
        app.log.write("heroku", dyno.name, f"Process exited with status {outcome['code']}")
        self._set_state(app, dyno, "down" if dyno.stopping else "crashed")

    def _wait_for_port(self, app: App, dyno: Dyno, port: int, exited: threading.Event) -> None:
        """`up` once $PORT is bound on a routable address; R10 and SIGKILL after the boot timeout."""
        assert self.runtime is not None
        runtime = self.runtime
        dyno.host_port = runtime.host_port(dyno.container, port)
        boot_timeout = app.boot_timeout or self.rules.boot_timeout
        booted_at = time.monotonic()
        while not exited.is_set() and not dyno.stopping:
            addresses = runtime.bound(dyno.container, port)
            if reachable(addresses):
                self._set_state(app, dyno, "up")
                return
            if time.monotonic() - booted_at > boot_timeout:
                hint = f" (it listens on {', '.join(sorted(addresses))} only; bind 0.0.0.0)" if addresses else ""
                app.log.write(
                    "heroku",
                    dyno.name,
                    "Error R10 (Boot timeout) -> Web process failed to bind to "
                    f"$PORT within {boot_timeout:g} seconds of launch{hint}",
                )
                app.log.write("heroku", dyno.name, "Stopping process with SIGKILL")
                runtime.kill(dyno.container)
                return
            exited.wait(0.1)
