"""What every Platform API request goes through before its route: Bearer auth, the Accept header's
version, the rate limit, and the headers every answer carries.

Every request needs `Authorization: Bearer <key>` (401 `unauthorized` otherwise) and
`Accept: application/vnd.heroku+json; version=3[.variant]` (406 `not_acceptable`); every answer
carries `Request-Id` and `RateLimit-Remaining`, from a token bucket like Heroku's (4500 tokens,
refilled at 75 a minute by default; empty -> 429 `rate_limit`). Errors are `{"id", "message"}`.
Release output and log sessions are served at pre-signed URLs that need no key, as on Heroku.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
import uuid
from collections.abc import Callable

from pydantic import SecretStr
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MIME = "application/vnd.heroku+json; version=3"
_ACCEPT = re.compile(r"application/vnd\.heroku\+json;\s*version=3(?:\.(?P<variant>[\w-]+))?")
# Release output and log sessions are read at URLs that are their own credential, as on Heroku.
PRESIGNED = ("/streams/", "/logs/")


class TokenBucket:
    def __init__(
        self, capacity: int = 4500, per_second: float = 75 / 60, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity, self.per_second, self._clock = capacity, per_second, clock
        self._tokens = float(capacity)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now

    def take(self) -> tuple[bool, int]:
        with self._lock:
            self._refill()
            if self._tokens < 1:
                return False, 0
            self._tokens -= 1
            return True, int(self._tokens)

    def remaining(self) -> int:
        with self._lock:
            self._refill()
            return int(self._tokens)


def _error(status: int, error_id: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"id": error_id, "message": message}, status_code=status, headers=headers)


class Gatekeeper:
    """Auth, Accept, rate limit and the headers every answer carries."""

    def __init__(self, app: ASGIApp, key: SecretStr, bucket: TokenBucket) -> None:
        self.app, self.key, self.bucket = app, key, bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        extra = [(b"request-id", request_id.encode())]
        path = str(scope["path"])
        if not path.startswith(PRESIGNED):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            auth = headers.get("authorization", "")
            if not (
                auth.startswith("Bearer ")
                and hmac.compare_digest(auth[7:].encode(), self.key.get_secret_value().encode())
            ):
                await _error(
                    401, "unauthorized", "Invalid credentials provided.", {"Request-Id": request_id}
                )(scope, receive, send)
                return
            accept = _ACCEPT.search(headers.get("accept", ""))
            if accept is None:
                await _error(
                    406,
                    "not_acceptable",
                    "Please specify a version along with Heroku's API MIME type. "
                    f"For example, `Accept: {MIME}`.",
                    {"Request-Id": request_id},
                )(scope, receive, send)
                return
            scope["heroku.variant"] = accept["variant"]
            if not path.startswith(("/__heroku_local", "/account/rate-limits")):
                allowed, remaining = self.bucket.take()
                if not allowed:
                    body = {
                        "id": "rate_limit",
                        "message": "Your account reached the API rate limit\nPlease wait a "
                        "few minutes before making new requests",
                        "url": "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits",
                    }
                    await JSONResponse(
                        body, status_code=429, headers={"RateLimit-Remaining": "0", "Request-Id": request_id}
                    )(scope, receive, send)
                    return
                extra.append((b"ratelimit-remaining", str(remaining).encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
