"""Images in and out of the app's registry, as Heroku documents it.

- Push: the Docker engine pushes `<registry>/<app>/<process-type>:latest` (the docker SDK, with auth
  `_` / the API key), then the manifest is read back the way `heroku container:release` does and must
  be a Docker v2 schema 2 manifest whose config digest is the image id Heroku's formation API wants.
- Copy (promotion): the exact manifest bytes and their blobs go from one app's repository to
  another's with a registry client (python-dxf), so production runs the very digest that passed on
  staging; no engine is needed for that.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, cast

import requests
import tenacity
from dxf import DXF, DXFBase
from dxf import exceptions as dxf_errors

from model_server.safe_load import ParseError, load_json
from pipeline import retry
from pipeline.deploy.deadline import Deadline
from pipeline.deploy.settings import KEY_VAR, Target
from pipeline.errors import ConfigError, ExternalError, PipelineError

log = logging.getLogger("pipeline.deploy")

V2_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
V2_CONFIG = "application/vnd.docker.container.image.v1+json"
PLATFORM = ("linux", "amd64")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_AUTH_WORDS = ("unauthorized", "authentication required", "denied", "401")
_REFUSED_WORDS = ("manifest invalid", "manifest_invalid", "unsupported", "405")


@dataclass(frozen=True)
class Image:
    """One process type's image as released: Heroku's `docker_image` is `config_digest`."""

    process_type: str
    repository: str
    config_digest: str
    manifest_digest: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class _Transient(Exception):
    pass


class _RegistryClient(DXF):
    def authenticate(
        self,
        username: str | None = None,
        password: str | None = None,
        actions: list[str] | None = None,
        response: requests.Response | None = None,
        authorization: str | None = None,
        user_agent: str = "Docker-Client/20.10 (linux)",
    ) -> str | None:
        challenge = response.headers.get("WWW-Authenticate", "") if response is not None else ""
        if self._insecure and challenge.lower().startswith("basic") and username is not None:
            # dxf refuses credentials over plain HTTP; Target only allows HTTP to a loopback
            # registry (heroku-local), where Basic `_:<key>` is what registry.heroku.com takes too.
            token = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._headers = {"Authorization": f"Basic {token}"}
            return None
        return super().authenticate(
            username,
            password,
            actions=actions,
            response=response,
            authorization=authorization,
            user_agent=user_agent,
        )


def _retryable_http(exc: BaseException) -> bool:
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return exc.response.status_code in retry.RETRY_STATUS
    return isinstance(exc, requests.ConnectionError | requests.Timeout | _Transient)


class Registry:
    def __init__(
        self,
        target: Target,
        deadline: Deadline,
        *,
        max_attempts: int = 4,
        backoff: float = 1.0,
        docker_client: Any = None,
    ) -> None:
        self.target = target
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.backoff = backoff
        self._docker = docker_client
        self._redact = target.redactor()
        self.push_attempts = 0

    def __repr__(self) -> str:
        return f"Registry({self.target.registry!r})"

    # -- plumbing ------------------------------------------------------------------------------

    @cached_property
    def docker(self) -> Any:
        if self._docker is not None:
            return self._docker
        import docker

        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except docker.errors.DockerException as exc:
            raise ExternalError(
                f"Docker engine not reachable ({type(exc).__name__}); start Docker or set "
                "DOCKER_HOST: the deployer pushes through the engine"
            ) from None
        return client

    def _retrying(self, what: str) -> tenacity.Retrying:
        return retry.retrying(
            retry.Backoff(self.max_attempts, self.backoff),
            retry=tenacity.retry_if_exception(_retryable_http),
            log=log,
            describe=lambda exc: f"{what} failed ({self._redact(str(exc))[:200]})",
            remaining=self.deadline.remaining,
            sleep=self.deadline.sleep,
        )

    def _client(self, repository: str) -> _RegistryClient:
        key = self.target.api_key

        def auth(client: DXFBase, response: requests.Response) -> None:
            client.authenticate("_", key.get_secret_value(), response=response)

        return _RegistryClient(
            self.target.registry,
            repository,
            auth=auth,
            insecure=self.target.registry_insecure,
            timeout=self.deadline.cap(120),
        )

    def _fail(self, what: str, exc: BaseException) -> PipelineError:
        status = (
            exc.response.status_code
            if isinstance(exc, requests.HTTPError) and exc.response is not None
            else None
        )
        text = self._redact(str(exc)).replace("\n", " ")[:300]
        if status in {401, 403}:
            return ConfigError(
                f"{what}: registry {self.target.registry} answered {status}; set {KEY_VAR} to a "
                "valid API key with access to the app"
            )
        return ExternalError(f"{what}: {text}; re-run the deploy, or check the registry's status")

    # -- local image ---------------------------------------------------------------------------

    def inspect_local(self, image: str) -> dict[str, Any]:
        import docker

        try:
            attrs = self.docker.api.inspect_image(image)
        except docker.errors.ImageNotFound:
            raise ConfigError(
                f"image {image!r} is not in the Docker engine; build it first "
                "(`pipeline image build`) or pass the right --image"
            ) from None
        except docker.errors.APIError as exc:
            raise ExternalError(f"Docker engine: cannot inspect {image!r}: {exc.explanation}") from None
        platform = (attrs.get("Os"), attrs.get("Architecture"))
        if platform != PLATFORM:
            raise ConfigError(
                f"image {image!r} is {platform[0]}/{platform[1]}; Heroku dynos run linux/amd64 "
                "(rebuild with --platform linux/amd64)"
            )
        return dict(attrs)

    # -- push ------------------------------------------------------------------------------------

    def push(self, image: str, app: str, process_type: str) -> Image:
        attrs = self.inspect_local(image)
        repository = f"{app}/{process_type}"
        name = f"{self.target.registry}/{repository}"
        self.docker.api.tag(attrs["Id"], name, "latest")
        try:
            pushed_digest = self._retrying(f"push {name}:latest")(self._push_once, name)
        except _Transient as exc:
            raise ExternalError(
                f"push {name}:latest: {exc}; still failing after {self.max_attempts} attempts; "
                "re-run the deploy or check the registry"
            ) from None
        finally:
            try:
                self.docker.api.remove_image(f"{name}:latest", noprune=True)
            except Exception as exc:
                log.debug("could not remove the push tag %s: %s", name, exc)
        manifest, manifest_digest = self.manifest(app, process_type, "latest")
        if pushed_digest and pushed_digest != manifest_digest:
            raise ExternalError(
                f"{name}:latest is {manifest_digest[:19]} in the registry but the push reported "
                f"{pushed_digest[:19]}; another push raced this deploy, re-run it"
            )
        config_digest = manifest["config"]["digest"]
        if config_digest != attrs["Id"]:
            # The containerd image store reports the manifest digest as the id; the registry is right.
            log.debug("engine id %s differs from the config digest %s", attrs["Id"], config_digest)
        log.info("pushed %s:latest (image %s, manifest %s)", name, config_digest[:19], manifest_digest[:19])
        return Image(process_type, repository, config_digest, manifest_digest)

    def _push_once(self, name: str) -> str | None:
        self.push_attempts += 1
        self.deadline.check(f"pushing {name}")
        auth = {"username": "_", "password": self.target.api_key.get_secret_value()}
        digest = None
        for event in self.docker.api.push(name, tag="latest", stream=True, decode=True, auth_config=auth):
            if "error" in event or "errorDetail" in event:
                message = self._redact(str(event.get("error") or event["errorDetail"].get("message", "")))
                lowered = message.lower()
                if any(w in lowered for w in _AUTH_WORDS):
                    raise ConfigError(
                        f"push {name}: the registry refused the credentials ({message}); set "
                        f"{KEY_VAR} to a valid API key of an app collaborator"
                    )
                if any(w in lowered for w in _REFUSED_WORDS):
                    raise ConfigError(
                        f"push {name}: the registry refused the image ({message}); Heroku only takes "
                        "Docker v2 schema 2 manifests: build with the classic builder or with "
                        "`--provenance=false --sbom=false` and oci-mediatypes=false"
                    )
                raise _Transient(message)
            aux = event.get("aux") or {}
            digest = aux.get("Digest", digest)
        return str(digest) if digest else None

    # -- manifests ---------------------------------------------------------------------------

    def manifest(self, app: str, process_type: str, reference: str) -> tuple[dict[str, Any], str]:
        """The v2 manifest `<app>/<type>:<reference>` and its digest, checked the way Heroku reads it."""
        manifest, digest, _ = self._checked_manifest(app, process_type, reference)
        return manifest, digest

    def _checked_manifest(
        self, app: str, process_type: str, reference: str
    ) -> tuple[dict[str, Any], str, bytes]:
        repository = f"{app}/{process_type}"
        what = f"read {self.target.registry}/{repository}:{reference}"
        try:
            raw = self._retrying(what)(self._get_manifest, repository, reference)
        except (requests.RequestException, dxf_errors.DXFError) as exc:
            if (
                isinstance(exc, requests.HTTPError)
                and exc.response is not None
                and exc.response.status_code == 404
            ):
                raise ConfigError(
                    f"{what}: no such image in the registry; push it first "
                    "(or check the digest you asked for)"
                ) from None
            raise self._fail(what, exc) from None
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise ExternalError(f"{what}: the registry served content with digest {digest}; refusing it")
        try:
            manifest = load_json(raw)
        except ParseError as exc:
            raise ExternalError(f"{what}: the registry's manifest is not JSON ({exc}); refusing it") from None
        if not isinstance(manifest, dict):
            raise ExternalError(f"{what}: the registry's manifest is not a JSON object; refusing it")
        media_type = manifest.get("mediaType")
        if manifest.get("schemaVersion") != 2 or media_type != V2_MANIFEST:
            raise ConfigError(
                f"{what}: manifest type {media_type!r} is not Docker v2 schema 2 ({V2_MANIFEST}); "
                "Heroku cannot release it, rebuild without OCI media types"
            )
        if not _DIGEST.match(str(manifest.get("config", {}).get("digest", ""))):
            raise ExternalError(f"{what}: manifest has no valid config digest")
        return manifest, digest, raw

    def _get_manifest(self, repository: str, reference: str) -> bytes:
        self.deadline.check(f"reading {repository}:{reference}")
        client = self._client(repository)
        _, resp = client.get_manifest_and_response(reference)
        return bytes(resp.content)

    # -- copy (promotion) ------------------------------------------------------------------------

    def copy(self, source_app: str, target_app: str, process_type: str, manifest_digest: str) -> Image:
        """Make `<target_app>/<type>:latest` the exact manifest `manifest_digest` of the source app."""
        manifest, digest, raw = self._checked_manifest(source_app, process_type, manifest_digest)
        source_repo, target_repo = f"{source_app}/{process_type}", f"{target_app}/{process_type}"
        what = f"copy {source_repo}@{manifest_digest[:19]} to {target_repo}"
        try:
            self._retrying(what)(self._copy_once, source_repo, target_repo, manifest)
            # The exact bytes, so the target's manifest digest is the source's.
            self._retrying(what)(self._client(target_repo).set_manifest, "latest", raw.decode("utf-8"))
        except (requests.RequestException, dxf_errors.DXFError) as exc:
            raise self._fail(what, exc) from None
        copied, copied_digest = self.manifest(target_app, process_type, "latest")
        if copied_digest != digest:
            raise ExternalError(
                f"{what}: the target now holds {copied_digest[:19]}, not {digest[:19]}; "
                "another push raced the promotion, re-run it"
            )
        log.info("copied %s -> %s:latest", digest[:19], target_repo)
        return Image(process_type, target_repo, copied["config"]["digest"], copied_digest)

    def _copy_once(self, source_repo: str, target_repo: str, manifest: dict[str, Any]) -> None:
        source, target = self._client(source_repo), self._client(target_repo)
        for descriptor in [manifest["config"], *manifest["layers"]]:
            digest = descriptor["digest"]
            self.deadline.check(f"copying blob {digest[:19]}")
            try:
                target.blob_size(digest)
                continue
            except requests.HTTPError as exc:
                if exc.response is None or exc.response.status_code != 404:
                    raise
            try:
                # Cross-repository mount: no bytes move when the registry allows it (UNCONFIRMED on Heroku).
                target.mount_blob(source_repo, digest)
            except (dxf_errors.DXFMountFailed, requests.HTTPError):
                chunks = cast(Iterable[bytes], source.pull_blob(digest))
                target.push_blob(data=chunks, digest=digest, check_exists=False)
