"""Formation: scale and, in the docker-releases variant, release images."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, body_object, docker_variant, json_route, param
from heroku_local.api.shapes import formation_json


def list_formation(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    variant = docker_variant(request)
    return Reply([formation_json(app, f, variant) for f in ctx.platform.formation.all(app.name)])


def update_formation(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    # A bare array is refused: Heroku's schema requires the `updates` key.
    updates = body.get("updates") if isinstance(body, dict) else None
    variant = docker_variant(request)
    formation, warning = ctx.platform.formation.update(app.name, updates, variant)
    headers = {"Warning-Message": warning} if warning else {}
    return Reply([formation_json(app, f, variant) for f in formation], headers=headers)


def get_one(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    formation = ctx.platform.formation.get(app.name, param(request, "type"))
    return Reply(formation_json(app, formation, docker_variant(request)))


def update_one(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    variant = docker_variant(request)
    formation = ctx.platform.formation.update_one(app.name, param(request, "type"), body_object(body), variant)
    return Reply(formation_json(app, formation, variant))


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/apps/{app}/formation", "GET", list_formation),
        json_route(ctx, "/apps/{app}/formation", "PATCH", update_formation),
        json_route(ctx, "/apps/{app}/formation/{type}", "GET", get_one),
        json_route(ctx, "/apps/{app}/formation/{type}", "PATCH", update_one),
    ]
