"""The one ASGI middleware in front of every route: request id, body limit, content type, metrics, access log.

Plain ASGI rather than BaseHTTPMiddleware: it sits on the hot path of every request.
The body is read here, up to the limit, before any route sees it: a body over the limit is
answered 413 without being buffered whole, and no framework code can turn it into a 400 or 500.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model_server.logs import request_id
from model_server.metrics import Metrics

log = logging.getLogger("model_server.access")

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class RequestGuard:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics, known_paths: set[str]) -> None:
        self.app = app
        # Requests refused here never reach the router; label them by path when it is a real route,
        # so a scanner's random URLs cannot blow up the metrics' label cardinality.
        self.known_paths = known_paths
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        # A caller's id (Heroku's router sends one) is kept if it is harmless to log; otherwise a new one.
        rid = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        method = scope["method"]
        try:
            if method in _BODY_METHODS:
                problem = await self._check_body(headers, receive)
                if isinstance(problem, tuple):
                    code, detail = problem
                    await _json(send_with_id, code, {"detail": detail})
                    return
                receive = _replay(problem, receive)
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error")
            if not started:
                await _json(send_with_id, 500, {"detail": "internal error", "request_id": rid})
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or (
                scope["path"] if scope["path"] in self.known_paths else "unmatched"
            )
            seconds = time.perf_counter() - start
            self.metrics.observe(path, method, status, seconds)
            log.info(
                "%s %s %s", method, scope["path"], status,
                extra={"fields": {"method": method, "path": scope["path"], "route": path, "status": status,
                                  "duration_ms": round(seconds * 1000, 2)}},
            )
            request_id.reset(token)

    async def _check_body(self, headers: dict[str, str], receive: Receive) -> bytes | tuple[int, str]:
        """The whole body, or (status, reason) when it must be refused."""
        if not _is_json(headers.get("content-type", "")):
            return 415, "Content-Type must be application/json"
        declared = headers.get("content-length")
        limit = self.max_body_bytes
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return 413, f"body larger than {limit} bytes; send fewer records per request"
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return 413, f"body larger than {limit} bytes; send fewer records per request"
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a later disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _json(send: Send, status: int, doc: dict[str, Any]) -> None:
    body = json.dumps(doc).encode()
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    })
    await send({"type": "http.response.body", "body": body})
