"""heroku-local, assembled: registry process + registry front + Platform API + one router per app.

The HTTP servers (uvicorn) share one asyncio loop on a background thread; the control plane and the
dynos run on plain threads. `HerokuLocal` is a context manager, so tests and the CLI start and stop
it the same way. When `announce` is set it writes its endpoints to <home>/endpoint.json, which is
where `pipeline deploy --target local` finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr

from pipeline.deploy.settings import ENDPOINT_FILE
from pipeline.errors import ConfigError, ExternalError
from pipeline.heroku_local.api import TokenBucket, create_api
from pipeline.heroku_local.faults import Fault, FaultBook, QuietInjectedDrops
from pipeline.heroku_local.platform import App, Platform, RegistryIndex
from pipeline.heroku_local.registry import RegistryFront, RegistryProcess, create_front
from pipeline.heroku_local.router import Router
from pipeline.heroku_local.runtime import DockerRuntime, RuntimeRules

log = logging.getLogger("pipeline.heroku_local")


@dataclass(frozen=True)
class LocalConfig:
    home: Path
    api_key: SecretStr = field(repr=False)
    api_port: int = 0
    registry_port: int = 0
    rules: RuntimeRules = field(default_factory=RuntimeRules)
    rate_capacity: int = 4500
    rate_per_second: float = 75 / 60
    apps: tuple[str, ...] = ()
    faults: tuple[Fault, ...] = ()
    announce: bool = True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Servers:
    """uvicorn servers on one event loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hl-http", daemon=True)
        self.thread.start()
        self._running: list[tuple[uvicorn.Server, Future[None]]] = []

    def serve(self, app: Any, port: int = 0) -> tuple[uvicorn.Server, int]:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"heroku-local: cannot listen on 127.0.0.1:{port} ({exc.strerror}); pick another "
                "port or stop what uses it"
            ) from None
        config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        future = asyncio.run_coroutine_threadsafe(server.serve(sockets=[sock]), self.loop)
        give_up = time.monotonic() + 10
        while not server.started:
            if future.done():
                future.result()
            if time.monotonic() > give_up:
                raise ExternalError("heroku-local: an HTTP server did not start within 10 s")
            time.sleep(0.01)
        self._running.append((server, future))
        return server, int(sock.getsockname()[1])

    def stop(self, server: uvicorn.Server) -> None:
        for running, future in list(self._running):
            if running is server:
                server.should_exit = True
                with contextlib.suppress(Exception):
                    future.result(timeout=5)
                self._running.remove((running, future))

    def run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def close(self) -> None:
        for server, _ in list(self._running):
            self.stop(server)
        # Response streams a client abandoned are async generators still holding connections.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self.loop.shutdown_asyncgens(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.loop.close()


class HerokuLocal:
    def __init__(self, config: LocalConfig, docker_client: Any = None) -> None:
        self.config = config
        self.faults = FaultBook(list(config.faults))
        self.index = RegistryIndex()
        self._docker = docker_client
        self._own_client: Any = None
        self.instance = hashlib.sha256(str(config.home.resolve()).encode()).hexdigest()[:8]
        self.platform: Platform | None = None
        self.api_url = ""
        self.registry_host = ""
        self._servers: _Servers | None = None
        self._registry: RegistryProcess | None = None
        self._routers: dict[str, tuple[uvicorn.Server, Router]] = {}
        self._front: RegistryFront | None = None

    def __repr__(self) -> str:
        return f"HerokuLocal(api={self.api_url!r}, registry={self.registry_host!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> HerokuLocal:
        import docker

        logging.getLogger("uvicorn.error").addFilter(QuietInjectedDrops())
        try:
            client = self._docker or docker.from_env(timeout=300, max_pool_size=64)
            self._own_client = client if self._docker is None else None
            client.ping()
        except docker.errors.DockerException as exc:
            raise ExternalError(
                f"heroku-local needs a Docker engine ({type(exc).__name__}); start Docker, or on "
                "this project run `sudo make engine`"
            ) from None
        runtime = DockerRuntime(client, self.instance, f"hl-{self.instance}", "", self.config.rules)
        try:
            self._registry = RegistryProcess(
                self.config.home / "registry", self.config.registry_port or free_port()
            )
            self._registry.start()
            runtime.pull_host = f"127.0.0.1:{self._registry.port}"
            runtime.prepare()
            self.platform = Platform(runtime, self.index, self.config.rules)
            self.platform.on_app_created = self._open_router
            self.platform.on_app_deleted = self._close_router
            self._servers = _Servers()
            self._front = RegistryFront(
                self._registry.url,
                self.config.api_key,
                lambda name: name in self.platform.apps if self.platform else False,
                self.index,
            )
            _, front_port = self._servers.serve(create_front(self._front, self.faults))
            self.registry_host = f"127.0.0.1:{front_port}"
            bucket = TokenBucket(self.config.rate_capacity, self.config.rate_per_second)
            _, api_port = self._servers.serve(
                create_api(self.platform, self.config.api_key, self.faults, bucket), self.config.api_port
            )
            self.api_url = f"http://127.0.0.1:{api_port}"
            for name in self.config.apps:
                self.platform.create_app(name)
            if self.config.announce:
                self._announce()
        except BaseException:
            self.stop()
            raise
        log.info("heroku-local: API %s, registry %s", self.api_url, self.registry_host)
        return self

    def stop(self) -> None:
        if self.platform is not None:
            self.platform.shutdown()
            if self.platform.runtime is not None:
                self.platform.runtime.teardown()
        if self._servers is not None:
            for _, router in self._routers.values():
                with contextlib.suppress(Exception):
                    self._servers.run(router.aclose())
            if self._front is not None:
                with contextlib.suppress(Exception):
                    self._servers.run(self._front.aclose())
            self._servers.close()
            self._servers = None
        if self._registry is not None:
            self._registry.stop()
            self._registry = None
        if self._own_client is not None:
            self._own_client.close()
            self._own_client = None
        endpoint = self.config.home / ENDPOINT_FILE
        if self.config.announce and endpoint.exists():
            with contextlib.suppress(ValueError, OSError):
                if json.loads(endpoint.read_text()).get("api_url") == self.api_url:
                    endpoint.unlink()

    def __enter__(self) -> HerokuLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------------------------

    def _announce(self) -> None:
        self.config.home.mkdir(parents=True, exist_ok=True)
        endpoint = self.config.home / ENDPOINT_FILE
        endpoint.write_text(
            json.dumps({"api_url": self.api_url, "registry": self.registry_host}, indent=2) + "\n",
            encoding="utf-8",
        )

    def _open_router(self, app: App) -> str:
        assert self._servers is not None and self.platform is not None
        router = Router(self.platform, app.name)
        server, port = self._servers.serve(router)
        self._routers[app.name] = (server, router)
        return f"http://127.0.0.1:{port}/"

    def _close_router(self, app: App) -> None:
        entry = self._routers.pop(app.name, None)
        if entry is not None and self._servers is not None:
            self._servers.stop(entry[0])
            # Its pooled connections to the app's (now stopped) dynos go with it, closed, not GC'd.
            with contextlib.suppress(Exception):
                self._servers.run(entry[1].aclose())

    def create_app(self, name: str, stack: str = "container", boot_timeout: float | None = None) -> App:
        assert self.platform is not None
        return self.platform.create_app(name, stack, boot_timeout)

    def wait_settled(self, app: str, timeout: float = 60.0) -> None:
        """Block until the app's release queue is drained (tests and benchmarks use this)."""
        assert self.platform is not None
        target = self.platform.app(app)
        done = threading.Event()
        target.jobs.put(done.set)
        if not done.wait(timeout):
            raise ExternalError(f"heroku-local: {app} still delivering releases after {timeout:.0f} s")


@contextlib.contextmanager
def running(config: LocalConfig) -> Iterator[HerokuLocal]:
    with HerokuLocal(config) as local:
        yield local
