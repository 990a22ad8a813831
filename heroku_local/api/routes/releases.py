"""Releases: list (with Range), one by id or version, its config vars, rollback, and the release
phase's output stream at a pre-signed URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from heroku_local.api.handlers import (
    ApiContext,
    Reply,
    base_url,
    body_object,
    json_route,
    param,
    stream_route,
)
from heroku_local.api.ranges import select_range
from heroku_local.api.shapes import release_json
from heroku_local.errors import invalid


def list_releases(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    page, headers, status = select_range(ctx.platform.releases.all(app.name), request.headers.get("range"))
    return Reply([release_json(ctx.platform, app, r, base_url(request)) for r in page], status, headers)


def get_release(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    release = ctx.platform.releases.get(app.name, param(request, "release"))
    return Reply(release_json(ctx.platform, app, release, base_url(request)))


def rollback(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    body = body_object(body)
    if "release" not in body:
        raise invalid(
            "Invalid params: container apps release images through PATCH /apps/{app}/formation; "
            'POST /releases only takes {"release": <id>} to roll back'
        )
    release = ctx.platform.releases.rollback(app.name, body["release"])
    return Reply(release_json(ctx.platform, app, release, base_url(request)), 201)


def release_config(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    return Reply(dict(ctx.platform.releases.get(app.name, param(request, "release")).config))


async def release_output(ctx: ApiContext, request: Request) -> Response:
    release = ctx.platform.releases.find_by_id(param(request, "release"))
    output = release.output if release is not None else None
    if output is None or not output.started:
        # Like Heroku's stream: absent until the release command has started (clients retry on 404).
        return PlainTextResponse("stream not found\n", status_code=404)

    async def lines() -> AsyncIterator[str]:
        seen = 0
        while True:
            new, done = output.read_from(seen)
            seen += len(new)
            for line in new:
                yield line + "\n"
            if done and not new:
                return
            await asyncio.sleep(0.1)

    return StreamingResponse(lines(), media_type="text/plain")


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/apps/{app}/releases", "GET", list_releases),
        json_route(ctx, "/apps/{app}/releases", "POST", rollback),
        json_route(ctx, "/apps/{app}/releases/{release}", "GET", get_release),
        json_route(ctx, "/apps/{app}/releases/{release}/config-vars", "GET", release_config),
        stream_route(ctx, "/streams/{release}", release_output),
    ]
