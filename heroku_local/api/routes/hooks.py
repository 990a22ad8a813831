"""The account's rate limit, and heroku-local's own test hooks (fault injection), which Heroku lacks."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from heroku_local.api.handlers import ApiContext, Reply, body_object, json_route
from heroku_local.errors import invalid
from heroku_local.faults import Fault


def rate_limits(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply({"remaining": ctx.bucket.remaining()})


def add_fault(ctx: ApiContext, request: Request, body: Any) -> Reply:
    try:
        fault = Fault(**{k: v for k, v in body_object(body).items() if k != "hits"})
    except (TypeError, ValueError) as exc:
        raise invalid(f"Invalid fault: {exc}") from None
    ctx.faults.add(fault)
    return Reply(ctx.faults.pending(), 201)


def list_faults(ctx: ApiContext, request: Request, body: Any) -> Reply:
    return Reply(ctx.faults.pending())


def clear_faults(ctx: ApiContext, request: Request, body: Any) -> Reply:
    ctx.faults.clear()
    return Reply([])


def routes(ctx: ApiContext) -> list[Route]:
    return [
        json_route(ctx, "/account/rate-limits", "GET", rate_limits),
        json_route(ctx, "/__heroku_local/faults", "POST", add_fault),
        json_route(ctx, "/__heroku_local/faults", "GET", list_faults),
        json_route(ctx, "/__heroku_local/faults", "DELETE", clear_faults),
    ]
