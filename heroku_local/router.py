"""One router per app, listening on its web_url: sends each request to an up web dyno, round robin.

With no web dyno up it answers as Heroku's router does: HTTP 503 and Heroku's "Application error"
page, and logs `heroku[router]: at=error code=H10 desc="App crashed"` (H14 when the app has no web
dynos at all). A dyno that does not answer within 30 s gives H12; a broken connection H13.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from heroku_local.platform import Platform
from heroku_local.relay import Relayed

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "upgrade", "te", "content-length"}
CODES = {
    "H10": "App crashed",
    "H12": "Request timeout",
    "H13": "Connection closed without response",
    "H14": "No web processes running",
}
PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Application Error</title></head>
<body><h1>Application error</h1><p>An error occurred in the application and your page could not be served.
If you are the application owner, check your logs for details (heroku-local: {code} {desc}).</p></body></html>
"""


class Router:
    def __init__(self, platform: Platform, app: str, request_timeout: float = 30.0) -> None:
        self.platform = platform
        self.app = app
        self.request_timeout = request_timeout
        self._turn = itertools.count()
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.request_timeout, connect=5.0))
        return self._client

    def _log(self, request: Request, text: str) -> None:
        app = self.platform.apps.find(self.app)
        if app is None:
            return
        host = request.headers.get("host", "")
        app.log.write("heroku", "router", f'{text} method={request.method} path="{request.url.path}" host={host}')

    def _error(self, request: Request, code: str) -> Response:
        self._log(request, f'at=error code={code} desc="{CODES[code]}" status=503')
        return HTMLResponse(PAGE.format(code=code, desc=CODES[code]), status_code=503)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        ports, has_web = self.platform.routable(self.app)
        if not ports:
            return self._error(request, "H10" if has_web else "H14")
        port = ports[next(self._turn) % len(ports)]
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        url = f"http://127.0.0.1:{port}{raw.decode('latin-1')}" + (
            f"?{query.decode('latin-1')}" if query else ""
        )
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        started = time.monotonic()
        try:
            upstream = await self.client().send(
                self.client().build_request(
                    request.method, url, headers=headers, content=await request.body()
                ),
                stream=True,
            )
        except httpx.TimeoutException:
            return self._error(request, "H12")
        except httpx.HTTPError:
            return self._error(request, "H13")
        service = int((time.monotonic() - started) * 1000)
        self._log(request, f"at=info status={upstream.status_code} service={service}ms")
        passed = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return Relayed(upstream, passed)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
