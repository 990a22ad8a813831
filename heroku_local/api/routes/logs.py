"""Log sessions and their pre-signed `logplex_url`.

The official CLI reads the URL with an EventSource (`Accept: text/event-stream`): each line is one
`data:` event, and for a session without `tail` the stream ends after the recent lines, which the CLI
takes as the end of the logs. Any other client gets the same lines as chunked `text/plain`. With `tail`
the stream stays open and sends new lines as the dynos write them, until the client goes away.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, base_url, body_object, json_route, param, stream_route
from heroku_local.logs import LogSession
from heroku_local.state.apps import App

TAIL_POLL_SECONDS = 0.2


def create_session(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    session = ctx.platform.log_sessions.open(app.name, body_object(body))
    return Reply(
        {
            "id": session.id,
            "logplex_url": f"{base_url(request)}/logs/{session.id}",
            "created_at": session.created_at,
            "updated_at": session.created_at,
        },
        201,
    )


async def _lines(app: App, session: LogSession) -> AsyncIterator[str]:
    recent, number = app.log.since(0)
    for line in [ln for ln in recent if session.wants(ln)][-session.lines :]:
        yield line
    while session.tail:
        await asyncio.sleep(TAIL_POLL_SECONDS)
        new, number = app.log.since(number)
        for line in new:
            if session.wants(line):
                yield line


async def read_session(ctx: ApiContext, request: Request) -> Response:
    session = ctx.platform.log_sessions.get(param(request, "session"))
    app = ctx.platform.app(session.app)
    if "text/event-stream" in request.headers.get("accept", ""):

        async def events() -> AsyncIterator[str]:
            async for line in _lines(app, session):
                yield f"data: {line}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def text() -> AsyncIterator[str]:
        async for line in _lines(app, session):
            yield line + "\n"

    return StreamingResponse(text(), media_type="text/plain")


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/apps/{app}/log-sessions", "POST", create_session),
        stream_route(ctx, "/logs/{session}", read_session),
    ]
