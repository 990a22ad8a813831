"""How a route is written: a plain function from (context, request, parsed JSON body) to a `Reply`, run
on a worker thread (the control plane takes locks and may wait on Docker). Every failure becomes
Heroku's error JSON: a `PlatformError` with its own status, a body that is not JSON 400 `bad_request`,
one over the size limit 413."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from heroku_local.api.gatekeeper import TokenBucket
from heroku_local.errors import PlatformError, invalid
from heroku_local.faults import FaultBook
from heroku_local.platform import Platform

MAX_BODY_BYTES = 1 << 20  # far above any Platform API request; a bigger one is not a real client


@dataclass(frozen=True)
class ApiContext:
    platform: Platform
    faults: FaultBook
    bucket: TokenBucket


@dataclass(frozen=True)
class Reply:
    payload: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiContext, Request, Any], Reply]
Streamer = Callable[[ApiContext, Request], Awaitable[Response]]


def error_response(exc: PlatformError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


async def _body(request: Request) -> Any:
    if request.method not in {"POST", "PATCH", "PUT", "DELETE"}:
        return None
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise PlatformError(413, "request_entity_too_large", f"Request body is over {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise PlatformError(400, "bad_request", "Request body is not valid JSON.") from None


def json_route(ctx: ApiContext, path: str, method: str, handler: Handler) -> Route:
    async def run(request: Request) -> Response:
        try:
            body = await _body(request)
            reply = await run_in_threadpool(handler, ctx, request, body)
        except PlatformError as exc:
            return error_response(exc)
        return JSONResponse(reply.payload, status_code=reply.status, headers=reply.headers)

    return Route(path, run, methods=[method], name=f"{method} {path}")


def stream_route(ctx: ApiContext, path: str, streamer: Streamer) -> Route:
    async def run(request: Request) -> Response:
        try:
            return await streamer(ctx, request)
        except PlatformError as exc:
            return error_response(exc)

    return Route(path, run, methods=["GET"], name=f"GET {path}")


def param(request: Request, name: str) -> str:
    return str(request.path_params[name])


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def docker_variant(request: Request) -> bool:
    return request.scope.get("heroku.variant") == "docker-releases"


def body_object(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("Invalid params: the body must be a JSON object")
    return body
