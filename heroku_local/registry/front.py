"""The registry front: what clients see as the registry host, in front of the registry process. It
- takes Basic credentials with any user name and the API key as password (`docker login -u _`);
- only serves repositories `<app>/<process-type>` of existing apps;
- accepts only Docker Image Manifest V2, Schema 2: OCI manifests are refused (400 MANIFEST_INVALID)
  and manifest lists / OCI indexes too (405 UNSUPPORTED, as Heroku answers BuildKit's attestations);
- records which config digests each app holds, so the formation API can check `docker_image`;
- streams everything else to the registry process unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp

from heroku_local.faults import FaultBook, FaultMiddleware, registry_error_body
from heroku_local.registry.index import ImageRef, RegistryIndex
from heroku_local.relay import Relayed

log = logging.getLogger("heroku_local")

V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
LISTS = {
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
}
REPO = re.compile(r"^/v2/(?P<app>[a-z][a-z0-9-]{1,28}[a-z0-9])/(?P<type>[-\w]{1,128})/(?P<rest>.+)$")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host", "authorization", "upgrade", "te"}


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"errors": [{"code": code, "message": message}]}, status_code=status, headers=headers)


def manifest_problem(content_type: str, body: bytes) -> Response | None:
    """Why Heroku's registry would refuse this manifest PUT, as the response to send; None when fine."""
    kind = content_type.split(";")[0].strip()
    if kind in LISTS:
        return _errors(
            405,
            "UNSUPPORTED",
            "manifest lists and OCI image indexes are not supported; push one "
            "linux/amd64 image (build with --provenance=false --sbom=false)",
        )
    if kind != V2_MANIFEST:
        return _errors(
            400,
            "MANIFEST_INVALID",
            "only Docker Image Manifest V2, Schema 2 "
            f"({V2_MANIFEST}) is supported, got {kind or 'no Content-Type'}",
        )
    try:
        manifest = json.loads(body)
    except ValueError:
        return _errors(400, "MANIFEST_INVALID", "manifest is not JSON")
    if (
        not isinstance(manifest, dict)
        or manifest.get("schemaVersion") != 2
        or manifest.get("mediaType", V2_MANIFEST) != V2_MANIFEST
        or not isinstance(manifest.get("config"), dict)
    ):
        return _errors(400, "MANIFEST_INVALID", "manifest body is not a Docker v2 schema 2 manifest")
    return None


def _authorized(header: str | None, key: SecretStr) -> bool:
    if not header or not header.lower().startswith("basic "):
        return False
    try:
        _, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(password.encode(), key.get_secret_value().encode())


class RegistryFront:
    def __init__(
        self, backend: str, key: SecretStr, app_exists: Callable[[str], bool], index: RegistryIndex
    ) -> None:
        self.backend = backend
        self.key = key
        self.app_exists = app_exists
        self.index = index
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        # Created on first use, inside the server's event loop that will use it.
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=10.0))
        return self._client

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        if not path.startswith("/v2"):
            return _errors(404, "NOT_FOUND", "not a registry path")
        if not _authorized(request.headers.get("authorization"), self.key):
            return _errors(
                401,
                "UNAUTHORIZED",
                "authentication required",
                {"WWW-Authenticate": 'Basic realm="heroku-local"'},
            )
        if path in {"/v2", "/v2/"}:
            return await self.forward(request)
        match = REPO.match(path)
        if match is None:
            return _errors(404, "NAME_INVALID", "repositories are <app>/<process-type>")
        if not self.app_exists(match["app"]):
            return _errors(403, "DENIED", "requested access to the resource is denied")
        if request.method == "PUT" and match["rest"].startswith("manifests/"):
            body = await request.body()
            refused = manifest_problem(request.headers.get("content-type", ""), body)
            if refused is not None:
                log.info("registry refused a manifest for %s/%s", match["app"], match["type"])
                return refused
            response = await self.forward(request, body)
            if response.status_code == 201:
                manifest = json.loads(body)
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                self.index.add(
                    match["app"],
                    ImageRef(
                        match["type"],
                        f"{match['app']}/{match['type']}",
                        str(manifest["config"]["digest"]),
                        digest,
                    ),
                )
            return response
        return await self.forward(request)

    async def forward(self, request: Request, body: bytes | None = None) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        content: Any = body if body is not None else request.stream()
        # The raw target, untouched: upload URLs carry opaque state that must come back byte for byte.
        raw = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string") or b""
        target = raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        outgoing = self.client().build_request(
            request.method, self.backend + target, headers=headers, content=content
        )
        upstream = await self.client().send(outgoing, stream=True)
        passed = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
        return Relayed(upstream, passed)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()


def create_front(front: RegistryFront, faults: FaultBook) -> ASGIApp:
    return FaultMiddleware(front, faults, "registry", registry_error_body)
