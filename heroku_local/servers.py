"""uvicorn servers (the API, the registry front, one router per app) on one asyncio loop in a
background thread, so the control plane and the dynos can stay on plain threads."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any

import uvicorn

from heroku_local.errors import ServiceError, SetupError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class HttpServers:
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
            raise SetupError(
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
                raise ServiceError("heroku-local: an HTTP server did not start within 10 s")
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
