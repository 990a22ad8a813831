"""Tracking settings: from the environment first, then params.yaml's optional `tracking:` section.

Credentials are MLflow's own variables (MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME / PASSWORD) or a
user:password in MLFLOW_TRACKING_URI. They are read from the environment only (params.yaml is committed, so
`tracking.uri` may not carry them), never appear in repr, and every message the tracking code emits passes
through `redactor()`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from pipeline.deploy.settings import Redactor
from pipeline.errors import ConfigError
from pipeline.params import TrackingParams

SECRET_VARIABLES = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def without_userinfo(uri: str) -> str:
    """The URI as it may be shown: any user:password@ removed."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class TrackingSettings:
    uri: str = field(repr=False)  # may hold credentials
    experiment: str
    model_name: str
    required: bool
    timeout_seconds: float
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def display_uri(self) -> str:
        return without_userinfo(self.uri)

    def redactor(self) -> Redactor:
        return Redactor([*self.secrets, self.uri] if self.uri != self.display_uri else list(self.secrets))

    def __repr__(self) -> str:
        return (f"TrackingSettings(uri={self.display_uri!r}, experiment={self.experiment!r}, "
                f"model_name={self.model_name!r}, required={self.required})")

    def client_environment(self) -> dict[str, str]:
        """MLflow's HTTP client retries for minutes by default; an unreachable server must fail in seconds.

        These are MLflow's own variables (mlflow.environment_variables), read at each request.
        """
        return {
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, round(self.timeout_seconds))),
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
            # MLflow prints "View run at <tracking URI>..." on stdout, credentials in the URI included.
            "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        }


def _flag(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; set it to true or false")


def resolve(section: TrackingParams | None, env: Mapping[str, str] | None = None) -> TrackingSettings | None:
    """The settings when tracking is on, None when it is off (no URI anywhere)."""
    env = os.environ if env is None else env
    params = section or TrackingParams()
    uri = env.get("MLFLOW_TRACKING_URI", "").strip() or (params.uri or "")
    if not uri:
        return None
    if not urlsplit(uri).scheme.startswith("http"):
        # A file: or sqlite: store would silently track into the CI runner's disk and be lost with it.
        raise ConfigError(f"tracking URI {without_userinfo(uri)!r} is not an http(s) tracking server; "
                          "set MLFLOW_TRACKING_URI to the server's URL, e.g. https://mlflow.example.com")
    required = params.required
    if "PIPELINE_TRACKING_REQUIRED" in env:
        required = _flag("PIPELINE_TRACKING_REQUIRED", env["PIPELINE_TRACKING_REQUIRED"])
    parts = urlsplit(uri)
    secrets = [env[name] for name in SECRET_VARIABLES if env.get(name)]
    secrets += [s for s in (parts.password, parts.username) if s]
    return TrackingSettings(
        uri=uri,
        experiment=env.get("MLFLOW_EXPERIMENT_NAME", "").strip() or params.experiment,
        model_name=params.model_name,
        required=required,
        timeout_seconds=params.timeout_seconds,
        secrets=tuple(secrets),
    )
