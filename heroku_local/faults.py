"""Fault injection: make the API or the registry fail on purpose, a given number of times.

A fault matches requests by target ("api" or "registry"), HTTP method and a regular expression on
the path, and then either answers an error status without doing anything (500, 503, 429...) or drops
the connection mid-response, before or after the request was acted on (`drop="after"` is the
ambiguous case: the server did the work, the client never heard). Faults are set when heroku-local
is built or at runtime through `POST /__heroku_local/faults`.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("heroku_local")


@dataclass
class Fault:
    target: Literal["api", "registry"]
    path: str = ".*"
    method: str | None = None
    status: int = 503
    drop: Literal["before", "after"] | None = None
    times: int = 1
    hits: int = field(default=0)

    def __post_init__(self) -> None:
        if self.target not in {"api", "registry"}:
            raise ValueError(f"fault target must be 'api' or 'registry', got {self.target!r}")
        if self.drop not in {None, "before", "after"}:
            raise ValueError(f"fault drop must be 'before', 'after' or null, got {self.drop!r}")
        if not 400 <= int(self.status) <= 599:
            raise ValueError(f"fault status must be an HTTP error status, got {self.status}")
        if int(self.times) < 1:
            raise ValueError("fault times must be >= 1")
        re.compile(self.path)

    def matches(self, target: str, method: str, path: str) -> bool:
        return (
            self.target == target
            and (self.method is None or self.method.upper() == method)
            and re.search(self.path, path) is not None
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultBook:
    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]

    def take(self, target: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(target, method, path):
                    fault.hits += 1
                    if fault.hits >= fault.times:
                        self._faults.remove(fault)
                    return fault
        return None


class InjectedDrop(Exception):
    """Raised after a partial response so the server closes the connection, as a dropped link would."""


class QuietInjectedDrops(logging.Filter):
    """uvicorn logs every broken response as an application error; ours are on purpose. It also warns
    about the TLS hello the Docker engine sends first to any insecure registry before it falls back
    to plain HTTP: expected on loopback, so not worth a warning either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], InjectedDrop):
            return False
        return record.getMessage() != "Invalid HTTP request received."


async def _drop(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
        }
    )
    await send({"type": "http.response.body", "body": b'{"', "more_body": True})
    raise InjectedDrop("fault injection: connection dropped mid-response")


ErrorBody = Callable[[int], tuple[bytes, list[tuple[bytes, bytes]]]]


class FaultMiddleware:
    def __init__(self, app: ASGIApp, book: FaultBook, target: str, error_body: ErrorBody) -> None:
        self.app, self.book, self.target, self.error_body = app, book, target, error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith("/__heroku_local"):
            await self.app(scope, receive, send)
            return
        fault = self.book.take(self.target, scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        log.info(
            "fault injected on %s %s %s: %s",
            self.target,
            scope["method"],
            scope["path"],
            f"drop {fault.drop}" if fault.drop else fault.status,
        )
        if fault.drop == "after":

            async def swallow(message: Message) -> None:
                return None

            await self.app(scope, receive, swallow)
        if fault.drop:
            await _drop(send)
            return
        body, headers = self.error_body(fault.status)
        await send(
            {
                "type": "http.response.start",
                "status": fault.status,
                "headers": [(b"content-length", str(len(body)).encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})


def api_error_body(status: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    ids = {429: "rate_limit", 500: "internal_server_error", 503: "unavailable"}
    messages = {
        429: "Your account reached the API rate limit\nPlease wait a few minutes before making new requests"
    }
    body = {"id": ids.get(status, "error"), "message": messages.get(status, f"injected fault ({status})")}
    headers = [(b"content-type", b"application/json")]
    if status == 429:
        body["url"] = "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits"
        headers.append((b"ratelimit-remaining", b"0"))
    return json.dumps(body).encode(), headers


def registry_error_body(status: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = {"errors": [{"code": "UNKNOWN", "message": f"injected fault ({status})"}]}
    return json.dumps(body).encode(), [(b"content-type", b"application/json")]
