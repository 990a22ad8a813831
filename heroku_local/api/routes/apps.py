"""Apps, and what `heroku apps` / `apps:info` read beside them: the account, add-ons, collaborators."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, body_object, json_route, param
from heroku_local.api.shapes import account_json, app_json, collaborator_json
from heroku_local.errors import invalid


def list_apps(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply([app_json(ctx.platform, a) for a in ctx.platform.apps.all()])


def create_app(ctx: ApiContext, request: Request, body: Any) -> Reply:
    body = body_object(body)
    stack = body.get("stack")
    stack = stack.get("name") if isinstance(stack, dict) else stack
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise invalid("Invalid params: name must be a string")
    return Reply(app_json(ctx.platform, ctx.platform.create_app(name, stack)), 201)


def get_app(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(app_json(ctx.platform, ctx.platform.app(param(request, "app"))))


def update_app(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(app_json(ctx.platform, ctx.platform.apps.update(param(request, "app"), body_object(body))))


def delete_app(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(app_json(ctx.platform, ctx.platform.delete_app(param(request, "app"))))


def account(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(account_json(ctx.platform))


def addons(ctx: ApiContext, request: Request, body: Any) -> Reply:
    ctx.platform.app(param(request, "app"))
    return Reply([])  # this target has no add-on marketplace


def collaborators(ctx: ApiContext, request: Request, body: Any) -> Reply:
    app = ctx.platform.app(param(request, "app"))
    return Reply([collaborator_json(ctx.platform, app)])


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/account", "GET", account),
        json_route(ctx, "/apps", "GET", list_apps),
        # `heroku apps` lists the caller's own apps; every app here is the one account's.
        json_route(ctx, "/users/~/apps", "GET", list_apps),
        json_route(ctx, "/apps", "POST", create_app),
        json_route(ctx, "/apps/{app}", "GET", get_app),
        json_route(ctx, "/apps/{app}", "PATCH", update_app),
        json_route(ctx, "/apps/{app}", "DELETE", delete_app),
        json_route(ctx, "/apps/{app}/addons", "GET", addons),
        json_route(ctx, "/apps/{app}/collaborators", "GET", collaborators),
    ]
