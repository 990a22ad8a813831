"""Config vars: read, and update (null removes), which makes a release."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, body_object, json_route, param


def get_config(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(ctx.platform.config_vars.get(param(request, "app")))


def update_config(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(ctx.platform.config_vars.update(param(request, "app"), body_object(body)))


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/apps/{app}/config-vars", "GET", get_config),
        json_route(ctx, "/apps/{app}/config-vars", "PATCH", update_config),
    ]
