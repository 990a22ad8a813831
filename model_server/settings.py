"""Runtime settings of the serving process, read from the environment and validated all at once.

Names follow the platform (Heroku sets PORT and WEB_CONCURRENCY); everything else is optional.
Every bad variable is reported in one ConfigError, each named as the user spells it:
``environment: PORT must be <= 65535, got '70000'; WEB_CONCURRENCY must be >= 1, got '0'``.
Secrets are SecretStr, so they never show in a repr, a log line or an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from model_server.errors import ConfigError


class Settings(BaseSettings):
    # Field names are the environment variable names, lower-cased; no prefix because the platform's
    # own names (PORT, WEB_CONCURRENCY) are the ones users already know.
    model_config = SettingsConfigDict(frozen=True, case_sensitive=False, extra="ignore")

    host: str = Field(default="0.0.0.0", description="address to bind; 0.0.0.0 inside a container")  # noqa: S104
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to bind; Heroku sets it")
    web_concurrency: int = Field(default=1, ge=1, le=32, description="worker processes; Heroku sets it per dyno size")
    model_dir: Path = Field(default=Path("models"), description="directory with model.onnx and serving.json")
    contract_path: Path = Field(default=Path("gx/expectations/data.json"), description="the data contract (GX suite)")
    metrics_path: Path = Field(default=Path("reports/metrics.json"), description="training metrics shown by /version")
    params_path: Path = Field(default=Path("params.yaml"), description="params shown by /version")
    dvc_lock_path: Path = Field(default=Path("dvc.lock"), description="the model hash DVC recorded, shown by /version")
    git_commit: str = Field(default="unknown", max_length=64, description="commit the image was built from")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576, description="larger bodies get 413")
    max_batch: int = Field(default=1000, ge=1, le=100_000, description="most records in one /predict request")
    max_batch_rows: int = Field(
        default=2048, ge=1, le=1_000_000, description="most rows the micro-batcher hands the model in one call"
    )
    graceful_timeout: float = Field(
        default=25.0, gt=0, le=30, description="seconds to finish in-flight requests after SIGTERM (Heroku allows 30)"
    )
    max_header_bytes: int = Field(
        default=32_768, ge=1024, le=1_048_576, description="request line and headers larger than this get 431"
    )
    max_headers: int = Field(default=100, ge=10, le=1000, description="requests with more header lines get 431")
    request_timeout: float = Field(
        default=30.0, gt=0, le=300,
        description="seconds a client has, from connecting or its request's first byte, to send the whole request "
        "(then 408); the time the app takes to answer is not counted",
    )
    heroku_release_version: str = Field(
        default="unknown", max_length=64,
        description="the release label on the model's metrics; Heroku sets it with runtime-dyno-metadata, "
        "heroku-local always",
    )
    drift: bool = Field(default=True, description="live drift monitoring of served records (docs/monitoring.md)")
    drift_window: int = Field(default=1000, ge=10, le=100_000, description="records in the drift window")
    drift_min_records: int = Field(
        # 500: on clean traffic no 500-record window crossed PSI 0.25; 7 in 200 did at 200 (benchmarks/README.md)
        default=500, ge=1, le=100_000, description="records the window needs before drift gauges are exported"
    )
    drift_refresh_seconds: float = Field(
        default=1.0, ge=0, le=60, description="the drift gauges are recomputed at most this often"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_token: SecretStr | None = Field(
        default=None, description="if set, GET /metrics requires 'Authorization: Bearer <token>'"
    )

    @field_validator("drift_min_records")
    @classmethod
    def _fits_window(cls, value: int, info: ValidationInfo) -> int:
        window = info.data.get("drift_window")
        if window is not None and value > window:
            raise ValueError(f"must be <= DRIFT_WINDOW ({window})")
        return value

    @property
    def model_path(self) -> Path:
        return self.model_dir / "model.onnx"

    @property
    def meta_path(self) -> Path:
        return self.model_dir / "serving.json"

    def resolved(self, root: Path) -> Settings:
        """The same settings with relative paths anchored at `root` (the project root, `pipeline -C`)."""
        paths = {name: root / value for name, value in self if isinstance(value, Path) and not value.is_absolute()}
        return self.model_copy(update=paths)


def _describe(err: Mapping[str, Any]) -> str:
    # Not pipeline.config_errors.describe: the keys here are environment variables (PORT, not port),
    # and a value is echoed only for the kinds of error where it is a number or a choice, never for
    # the rest, which could be a secret such as METRICS_TOKEN.
    name = str(err["loc"][0]).upper() if err["loc"] else "?"
    got = err.get("input")
    ctx = err.get("ctx") or {}
    kind = err["type"]
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        return f"{name} must be {bounds[kind]} {next(iter(ctx.values()))}, got {got!r}"
    if kind == "literal_error":
        return f"{name} must be one of {ctx.get('expected')}, got {got!r}"
    if kind in {"int_parsing", "float_parsing"}:
        return f"{name} must be a number, got {got!r}"
    if kind == "bool_parsing":
        return f"{name} must be true or false, got {got!r}"
    if kind == "value_error":
        return f"{name} {ctx.get('error', err['msg'])!s}, got {got!r}"
    return f"{name}: {err['msg'].lower()}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `env` (default: os.environ). All problems are reported together, in one line."""
    try:
        if env is None:
            return Settings()
        # Explicit mappings (tests, the container helper) must not fall back to os.environ.
        lowered = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
        return Settings.model_validate(lowered)
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"environment: {problems}; fix the variables (see docs/serving.md)") from None
