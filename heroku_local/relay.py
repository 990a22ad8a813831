"""Passing an upstream HTTP response on as it streams in (the router to a dyno, the registry front to
the registry process)."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from starlette.responses import StreamingResponse


class Relayed(StreamingResponse):
    """An upstream response passed on as it streams in. The upstream connection is released however
    this ends, a client that went away included (then the body is never iterated at all)."""

    def __init__(self, upstream: httpx.Response, headers: dict[str, str]) -> None:
        super().__init__(upstream.aiter_raw(), status_code=upstream.status_code, headers=headers)
        self.upstream = upstream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()
