"""The Platform API over HTTP, shaped like api.heroku.com: what the deployer and the official Heroku CLI
call. `gatekeeper` checks every request (auth, Accept, rate limit); `routes/` holds one module per
resource; `shapes` the JSON they answer with; unknown paths and methods answer Heroku-shaped 404/405.
"""

from __future__ import annotations

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from heroku_local.api.gatekeeper import Gatekeeper, TokenBucket
from heroku_local.api.handlers import ApiContext
from heroku_local.api.routes import apps, config_vars, dynos, formation, hooks, logs, releases
from heroku_local.faults import FaultBook, FaultMiddleware, api_error_body
from heroku_local.platform import Platform

RESOURCES = (hooks, apps, formation, releases, config_vars, dynos, logs)


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"id": "not_found", "message": f"No route for {request.method} {request.url.path}."}, status_code=404
    )


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"id": "method_not_allowed", "message": f"{request.method} is not allowed on {request.url.path}."},
        status_code=405,
    )


def create_api(platform: Platform, key: SecretStr, faults: FaultBook, bucket: TokenBucket) -> ASGIApp:
    ctx = ApiContext(platform, faults, bucket)
    routes = [route for resource in RESOURCES for route in resource.routes(ctx)]
    app = Starlette(routes=routes, exception_handlers={404: _not_found, 405: _not_allowed})
    return FaultMiddleware(Gatekeeper(app, key, bucket), faults, "api", api_error_body)


__all__ = ["TokenBucket", "create_api"]
