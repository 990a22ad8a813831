"""heroku-local, assembled: registry process + registry front + Platform API + one router per app.

The HTTP servers (uvicorn) share one asyncio loop on a background thread; the control plane and the
dynos run on plain threads. `HerokuLocal` is a context manager, so tests and the CLI start and stop
it the same way. When `announce` is set it writes its endpoints to <home>/endpoint.json (the format
`heroku_local.endpoint` documents), which is where `pipeline deploy --target local` finds it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import uvicorn
from pydantic import SecretStr

from heroku_local import endpoint
from heroku_local.api import TokenBucket, create_api
from heroku_local.errors import ServiceError
from heroku_local.faults import Fault, FaultBook, QuietInjectedDrops
from heroku_local.platform import Platform
from heroku_local.registry.front import RegistryFront, create_front
from heroku_local.registry.index import RegistryIndex
from heroku_local.registry.process import RegistryProcess
from heroku_local.router import Router
from heroku_local.runtime import DockerRuntime, RuntimeRules
from heroku_local.servers import HttpServers, free_port
from heroku_local.state.apps import App

log = logging.getLogger("heroku_local")


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
        self._servers: HttpServers | None = None
        self._registry: RegistryProcess | None = None
        self._routers: dict[str, tuple[uvicorn.Server, Router]] = {}
        self._front: RegistryFront | None = None

    def __repr__(self) -> str:
        return f"HerokuLocal(api={self.api_url!r}, registry={self.registry_host!r})"

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> HerokuLocal:
        logging.getLogger("uvicorn.error").addFilter(QuietInjectedDrops())
        try:
            client = self._docker or docker.from_env(timeout=300, max_pool_size=64)
            self._own_client = client if self._docker is None else None
            client.ping()
        except docker.errors.DockerException as exc:
            raise ServiceError(
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
            self._servers = HttpServers()
            self._front = RegistryFront(
                self._registry.url,
                self.config.api_key,
                lambda name: self.platform is not None and name in self.platform.apps,
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
                endpoint.announce(self.config.home, self.api_url, self.registry_host)
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
        if self.config.announce and self.api_url:
            endpoint.withdraw(self.config.home, self.api_url)

    def __enter__(self) -> HerokuLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- helpers ------------------------------------------------------------------------------

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
        self.platform.delivery.settle(self.platform.app(app), timeout)


@contextlib.contextmanager
def running(config: LocalConfig) -> Iterator[HerokuLocal]:
    with HerokuLocal(config) as local:
        yield local
