"""The Platform API subset the deployer uses, over HTTP, shaped like api.heroku.com.

Every request needs `Authorization: Bearer <key>` (401 `unauthorized` otherwise) and
`Accept: application/vnd.heroku+json; version=3[.variant]` (406 `not_acceptable`); every answer
carries `Request-Id` and `RateLimit-Remaining`, from a token bucket like Heroku's (4500 tokens,
refilled at 75 a minute by default; empty -> 429 `rate_limit`). Errors are `{"id", "message"}`.
Lists of releases honour `Range: version ..; max=N, order=desc` (206 + Next-Range when cut).
Release output and log sessions are served at pre-signed URLs that need no key, as on Heroku.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.heroku_local.faults import Fault, FaultBook, FaultMiddleware, api_error_body
from pipeline.heroku_local.platform import App, Dyno, Formation, Platform, PlatformError, Release

MIME = "application/vnd.heroku+json; version=3"
_ACCEPT = re.compile(r"application/vnd\.heroku\+json;\s*version=3(?:\.(?P<variant>[\w-]+))?")
_RANGE = re.compile(
    r"^\s*(?P<field>id|version)\s*(?P<start>[^.\s]*)\s*\.\.\s*(?P<end>[^;\s]*)\s*(?:;\s*(?P<opts>.*))?$"
)
PRESIGNED = ("/streams/", "/logs/")


class TokenBucket:
    def __init__(
        self, capacity: int = 4500, per_second: float = 75 / 60, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.capacity, self.per_second, self._clock = capacity, per_second, clock
        self._tokens = float(capacity)
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.per_second)
        self._at = now

    def take(self) -> tuple[bool, int]:
        with self._lock:
            self._refill()
            if self._tokens < 1:
                return False, 0
            self._tokens -= 1
            return True, int(self._tokens)

    def remaining(self) -> int:
        with self._lock:
            self._refill()
            return int(self._tokens)


def _error(status: int, error_id: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"id": error_id, "message": message}, status_code=status, headers=headers)


class Gatekeeper:
    """Auth, Accept, rate limit and the headers every answer carries."""

    def __init__(self, app: ASGIApp, key: SecretStr, bucket: TokenBucket) -> None:
        self.app, self.key, self.bucket = app, key, bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        extra = [(b"request-id", request_id.encode())]
        path = str(scope["path"])
        if not path.startswith(PRESIGNED):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            auth = headers.get("authorization", "")
            if not (
                auth.startswith("Bearer ")
                and hmac.compare_digest(auth[7:].encode(), self.key.get_secret_value().encode())
            ):
                await _error(
                    401, "unauthorized", "Invalid credentials provided.", {"Request-Id": request_id}
                )(scope, receive, send)
                return
            accept = _ACCEPT.search(headers.get("accept", ""))
            if accept is None:
                await _error(
                    406,
                    "not_acceptable",
                    "Please specify a version along with Heroku's API MIME type. "
                    f"For example, `Accept: {MIME}`.",
                    {"Request-Id": request_id},
                )(scope, receive, send)
                return
            scope["heroku.variant"] = accept["variant"]
            if not path.startswith(("/__heroku_local", "/account/rate-limits")):
                allowed, remaining = self.bucket.take()
                if not allowed:
                    body = {
                        "id": "rate_limit",
                        "message": "Your account reached the API rate limit\nPlease wait a "
                        "few minutes before making new requests",
                        "url": "https://devcenter.heroku.com/articles/platform-api-reference#rate-limits",
                    }
                    await JSONResponse(
                        body, status_code=429, headers={"RateLimit-Remaining": "0", "Request-Id": request_id}
                    )(scope, receive, send)
                    return
                extra.append((b"ratelimit-remaining", str(remaining).encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


# -- JSON shapes ------------------------------------------------------------------------------------


def app_json(app: App) -> dict[str, Any]:
    stack = {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, app.stack)), "name": app.stack}
    return {
        "acm": False,
        "archived_at": None,
        "buildpack_provided_description": None,
        "build_stack": stack,
        "created_at": app.created_at,
        "generation": {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "cedar")), "name": "cedar"},
        "git_url": f"https://git.heroku.com/{app.name}.git",
        "id": app.id,
        "internal_routing": None,
        "maintenance": app.maintenance,
        "name": app.name,
        "owner": None,
        "organization": None,
        "team": None,
        "region": {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, "us")), "name": "us"},
        "released_at": app.released_at,
        "repo_size": None,
        "slug_size": None,
        "space": None,
        "stack": stack,
        "updated_at": app.updated_at,
        "web_url": app.web_url,
    }


def release_json(platform: Platform, app: App, release: Release, base: str) -> dict[str, Any]:
    return {
        "addon_plan_names": [],
        "artifacts": [],
        "app": {"id": app.id, "name": app.name},
        "created_at": release.created_at,
        "description": release.description,
        "id": release.id,
        "updated_at": release.updated_at,
        "slug": None,
        "status": release.status,
        "user": {"id": platform.user_id, "email": platform.email},
        "version": release.version,
        "current": platform.is_current(app, release),
        "output_stream_url": f"{base}/streams/{release.id}" if release.output is not None else None,
        "eligible_for_rollback": release.status == "succeeded",
    }


def formation_json(app: App, formation: Formation, docker_variant: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "app": {"id": app.id, "name": app.name},
        "command": formation.command,
        "created_at": formation.created_at,
        "dyno_size": {
            "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, formation.size.lower())),
            "name": formation.size,
        },
        "id": formation.id,
        "quantity": formation.quantity,
        "size": formation.size,
        "type": formation.type,
        "updated_at": formation.updated_at,
    }
    if docker_variant and app.current and formation.type in app.current.images:
        out["docker_image"] = app.current.images[formation.type].config_digest
    return out


def dyno_json(app: App, dyno: Dyno) -> dict[str, Any]:
    return {
        "attach_url": None,
        "command": dyno.command,
        "created_at": dyno.created_at,
        "id": dyno.id,
        "name": dyno.name,
        "release": {"id": dyno.release.id, "version": dyno.release.version},
        "app": {"id": app.id, "name": app.name},
        "size": dyno.size,
        "state": dyno.state,
        "type": dyno.type,
        "updated_at": dyno.updated_at,
    }


def select_range(releases: list[Release], header: str | None) -> tuple[list[Release], dict[str, str], int]:
    """Apply a Heroku `Range` header to a release list: (page, headers, status)."""
    field, order, limit, start, end = "version", "asc", 200, "", ""
    if header:
        match = _RANGE.match(header)
        if match is None:
            raise PlatformError(
                416,
                "requested_range_not_satisfiable",
                f"Range {header!r} is not valid; use e.g. `version ..; max=10, order=desc`",
            )
        field, start, end = match["field"], match["start"], match["end"]
        for option in filter(None, (o.strip() for o in (match["opts"] or "").split(","))):
            name, _, value = option.partition("=")
            if name == "max" and value.isdigit() and 0 < int(value) <= 1000:
                limit = int(value)
            elif name == "order" and value in {"asc", "desc"}:
                order = value
            else:
                raise PlatformError(
                    416, "requested_range_not_satisfiable", f"Range option {option!r} is not valid"
                )

    def key(r: Release) -> Any:
        return r.version if field == "version" else r.id

    def bound(text: str) -> Any:
        try:
            return int(text) if field == "version" else text
        except ValueError:
            raise PlatformError(
                416, "requested_range_not_satisfiable", f"{text!r} is not a version"
            ) from None

    def after(r: Release, edge: Any, inclusive: bool) -> bool:
        # "After" in the requested order: larger when ascending, smaller when descending.
        if key(r) == edge:
            return inclusive
        return (key(r) > edge) == (order == "asc")

    ordered = sorted(releases, key=key, reverse=order == "desc")
    if start.lstrip("]"):
        edge = bound(start.lstrip("]"))
        ordered = [r for r in ordered if after(r, edge, inclusive=not start.startswith("]"))]
    if end:
        edge = bound(end)
        ordered = [r for r in ordered if not after(r, edge, inclusive=False)]
    page = ordered[:limit]
    headers = {"Accept-Ranges": "id, version"}
    if page:
        headers["Content-Range"] = f"{field} {key(page[0])}..{key(page[-1])}"
    if len(ordered) > limit:
        headers["Next-Range"] = f"{field} ]{key(page[-1])}..; max={limit}, order={order}"
        return page, headers, 206
    return page, headers, 200


# -- the application ----------------------------------------------------------------------------------

Handler = Callable[[Request, Any], tuple[int, Any, dict[str, str]]]


def create_api(platform: Platform, key: SecretStr, faults: FaultBook, bucket: TokenBucket) -> ASGIApp:
    def base(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    def variant(request: Request) -> bool:
        return request.scope.get("heroku.variant") == "docker-releases"

    def endpoint(handler: Handler) -> Callable[[Request], Any]:
        async def run(request: Request) -> Response:
            body = None
            if request.method in {"POST", "PATCH", "PUT"}:
                raw = await request.body()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        return _error(400, "bad_request", "Request body is not valid JSON.")
            try:
                status, payload, headers = await run_in_threadpool(handler, request, body)
            except PlatformError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)
            return JSONResponse(payload, status_code=status, headers=headers)

        return run

    def p(request: Request, name: str) -> str:
        return str(request.path_params[name])

    def obj(body: Any) -> dict[str, Any]:
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise PlatformError(422, "invalid_params", "Invalid params: the body must be a JSON object")
        return body

    # apps
    def list_apps(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        with platform.lock:
            apps = list(platform.apps.values())
        return 200, [app_json(a) for a in apps], {}

    def create_app(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        body = obj(body)
        stack = body.get("stack")
        stack = stack.get("name") if isinstance(stack, dict) else stack
        return 201, app_json(platform.create_app(body.get("name"), stack)), {}

    def get_app(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, app_json(platform.app(p(r, "app"))), {}

    def patch_app(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, app_json(platform.update_app(p(r, "app"), obj(body))), {}

    def delete_app(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, app_json(platform.delete_app(p(r, "app"))), {}

    # formation
    def list_formation(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, [formation_json(app, f, variant(r)) for f in platform.formation(app.name)], {}

    def patch_formation(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        # A bare array is refused, as Heroku's schema requires the `updates` key.
        updates = body.get("updates") if isinstance(body, dict) else None
        formation, warning = platform.update_formation(app.name, updates, variant(r))
        headers = {"Warning-Message": warning} if warning else {}
        return 200, [formation_json(app, f, variant(r)) for f in formation], headers

    def get_one_formation(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, formation_json(app, platform.formation_of(app.name, p(r, "type")), variant(r)), {}

    def patch_one_formation(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        formation = platform.update_one_formation(app.name, p(r, "type"), obj(body), variant(r))
        return 200, formation_json(app, formation, variant(r)), {}

    # releases
    def list_releases(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        page, headers, status = select_range(platform.releases(app.name), r.headers.get("range"))
        return status, [release_json(platform, app, rel, base(r)) for rel in page], headers

    def get_release(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, release_json(platform, app, platform.release(app.name, p(r, "release")), base(r)), {}

    def create_release(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        body = obj(body)
        if "release" not in body:
            raise PlatformError(
                422,
                "invalid_params",
                "Invalid params: container apps release images through "
                'PATCH /apps/{app}/formation; POST /releases only takes {"release": <id>} to roll back',
            )
        return 201, release_json(platform, app, platform.rollback(app.name, body["release"]), base(r)), {}

    def release_config(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, dict(platform.release(app.name, p(r, "release")).config), {}

    # config vars
    def get_config(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, platform.config(p(r, "app")), {}

    def patch_config(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, platform.update_config(p(r, "app"), obj(body)), {}

    # dynos
    def list_dynos(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, [dyno_json(app, d) for d in platform.dynos(app.name)], {}

    def get_dyno(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        app = platform.app(p(r, "app"))
        return 200, dyno_json(app, platform.dyno(app.name, p(r, "dyno"))), {}

    def restart_dynos(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        platform.restart(p(r, "app"))
        return 202, {}, {}

    # logs
    def create_log_session(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        session, url = platform.create_log_session(p(r, "app"), obj(body), base(r))
        return (
            201,
            {
                "id": session.id,
                "logplex_url": url,
                "created_at": session.created_at,
                "updated_at": session.created_at,
            },
            {},
        )

    async def read_log_session(request: Request) -> Response:
        try:
            lines = await run_in_threadpool(platform.session_lines, p(request, "session"))
        except PlatformError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return PlainTextResponse("".join(f"{line}\n" for line in lines))

    async def release_stream(request: Request) -> Response:
        output = None
        with platform.lock:
            for app in platform.apps.values():
                found = next((rel for rel in app.releases if rel.id == p(request, "release")), None)
                if found is not None:
                    output = found.output
        if output is None or not output.started:
            # Like Heroku's stream: absent until the release command has started.
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

    def rate_limits(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, {"remaining": bucket.remaining()}, {}

    # test hooks
    def add_fault(r: Request, body: Any) -> tuple[int, Any, dict[str, str]]:
        try:
            fault = Fault(**{k: v for k, v in obj(body).items() if k != "hits"})
        except (TypeError, ValueError) as exc:
            raise PlatformError(422, "invalid_params", f"Invalid fault: {exc}") from None
        faults.add(fault)
        return 201, faults.pending(), {}

    def list_faults(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        return 200, faults.pending(), {}

    def clear_faults(r: Request, _: Any) -> tuple[int, Any, dict[str, str]]:
        faults.clear()
        return 200, [], {}

    routes = [
        Route("/account/rate-limits", endpoint(rate_limits), methods=["GET"]),
        Route("/apps", endpoint(list_apps), methods=["GET"]),
        Route("/apps", endpoint(create_app), methods=["POST"]),
        Route("/apps/{app}", endpoint(get_app), methods=["GET"]),
        Route("/apps/{app}", endpoint(patch_app), methods=["PATCH"]),
        Route("/apps/{app}", endpoint(delete_app), methods=["DELETE"]),
        Route("/apps/{app}/formation", endpoint(list_formation), methods=["GET"]),
        Route("/apps/{app}/formation", endpoint(patch_formation), methods=["PATCH"]),
        Route("/apps/{app}/formation/{type}", endpoint(get_one_formation), methods=["GET"]),
        Route("/apps/{app}/formation/{type}", endpoint(patch_one_formation), methods=["PATCH"]),
        Route("/apps/{app}/releases", endpoint(list_releases), methods=["GET"]),
        Route("/apps/{app}/releases", endpoint(create_release), methods=["POST"]),
        Route("/apps/{app}/releases/{release}", endpoint(get_release), methods=["GET"]),
        Route("/apps/{app}/releases/{release}/config-vars", endpoint(release_config), methods=["GET"]),
        Route("/apps/{app}/config-vars", endpoint(get_config), methods=["GET"]),
        Route("/apps/{app}/config-vars", endpoint(patch_config), methods=["PATCH"]),
        Route("/apps/{app}/dynos", endpoint(list_dynos), methods=["GET"]),
        Route("/apps/{app}/dynos", endpoint(restart_dynos), methods=["DELETE"]),
        Route("/apps/{app}/dynos/{dyno}", endpoint(get_dyno), methods=["GET"]),
        Route("/apps/{app}/log-sessions", endpoint(create_log_session), methods=["POST"]),
        Route("/logs/{session}", read_log_session, methods=["GET"]),
        Route("/streams/{release}", release_stream, methods=["GET"]),
        Route("/__heroku_local/faults", endpoint(add_fault), methods=["POST"]),
        Route("/__heroku_local/faults", endpoint(list_faults), methods=["GET"]),
        Route("/__heroku_local/faults", endpoint(clear_faults), methods=["DELETE"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "not_found", f"No route for {request.method} {request.url.path}.")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}.")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_allowed})
    return FaultMiddleware(Gatekeeper(app, key, bucket), faults, "api", api_error_body)
