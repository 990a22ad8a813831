"""Dynos: list, one, and the three restarts `heroku ps:restart` sends (all, one process type, one dyno)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, json_route, param
from heroku_local.api.shapes import dyno_json
from heroku_local.dynos import find_dyno, list_dynos


def list_all(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    return Reply([dyno_json(app, d) for d in list_dynos(ctx.platform.apps, app.name)])


def get_one(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    return Reply(dyno_json(app, find_dyno(ctx.platform.apps, app.name, param(request, "dyno"))))


def restart_all(ctx: ApiContext, request: Request, body: Any) -> Reply:
    ctx.platform.restart(param(request, "app"))
    return Reply({}, 202)


def restart_type(ctx: ApiContext, request: Request, body: Any) -> Reply:
    ctx.platform.restart(param(request, "app"), ptype=param(request, "type"))
    return Reply({}, 202)


def restart_one(ctx: ApiContext, request: Request, body: Any) -> Reply:
    ctx.platform.restart(param(request, "app"), dyno=param(request, "dyno"))
    return Reply({}, 202)


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/apps/{app}/dynos", "GET", list_all),
        json_route(ctx, "/apps/{app}/dynos", "DELETE", restart_all),
        json_route(ctx, "/apps/{app}/dynos/{dyno}", "GET", get_one),
        json_route(ctx, "/apps/{app}/dynos/{dyno}", "DELETE", restart_one),
        # Plural "formations": the path Heroku's Dyno Restart-by-type has and the CLI calls.
        json_route(ctx, "/apps/{app}/formations/{type}", "DELETE", restart_type),
    ]
