"""The scan gate's policy types: what blocks a release image, and the time-boxed exceptions to it.

Pure (validation of an already-parsed mapping): the gate decides with these; reading scan-policy.yaml from disk
is pipeline/scan/policy.py's job.

Every problem in the file is collected and reported together on one line, each naming its key:
``scan-policy.yaml: waivers[0].expires is missing; threshold must be one of CRITICAL, HIGH, ...``.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from pipeline.config_errors import config_error
from pipeline.errors import ConfigError


class Severity(StrEnum):
    CRITICAL = "CRITICAL"
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.UNKNOWN: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}

Scanner = Literal["hadolint", "trivy", "pip-audit", "secrets", "image"]
SCANNERS: tuple[str, ...] = ("hadolint", "trivy", "pip-audit", "secrets", "image")


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


SeverityName = Annotated[Severity, BeforeValidator(_upper)]
NonBlank = Annotated[
    str, BeforeValidator(lambda v: v.strip() if isinstance(v, str) else v), Field(min_length=1)
]


class _Strict(BaseModel):
    # extra="forbid": a misspelt key is an error, never a silently ignored default.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Waiver(_Strict):
    """One accepted finding, for a stated reason, until a date (inclusive)."""

    id: NonBlank = Field(description="finding id as reported: CVE-2024-1234, DL3008, image.root-user, ...")
    package: NonBlank = Field(description="package, or the finding's subject: Dockerfile path, file, label")
    reason: NonBlank = Field(description="why accepting this risk is right for now; shown in every report")
    expires: date = Field(description="last day the waiver applies (YYYY-MM-DD); after it the gate fails")

    def matches(self, finding_id: str, package: str) -> bool:
        return self.id.casefold() == finding_id.casefold() and self.package.casefold() == package.casefold()


class SecretsPolicy(_Strict):
    """Where in the image's layers to look for secrets; other paths belong to the OS and its packages."""

    paths: tuple[NonBlank, ...] = Field(
        default=(
            "/app",
            "/home",
            "/root",
            "/etc",
            "/opt",
            "/srv",
            "/tmp",  # noqa: S108 - paths inside the scanned image, not temporary files of ours
            "/var/tmp",  # noqa: S108
            "/usr/local",
            "/workspace",
        ),
        min_length=1,
    )
    exclude: tuple[NonBlank, ...] = Field(
        # Third-party packages ship example keys in tests and docs; the vulnerability scanners cover them.
        default=("*/site-packages/*", "*/dist-packages/*", "*/__pycache__/*", "*.pyc"),
    )
    max_file_bytes: Annotated[int, Field(ge=1, le=64 * 1024 * 1024)] = 1024 * 1024


DEFAULT_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
)


class ScanPolicy(_Strict):
    version: Literal[1] = 1
    threshold: SeverityName = Field(default=Severity.HIGH, description="block findings at or above this")
    only_fixed: bool = Field(default=True, description="vulnerabilities without a fixed version do not block")
    unrated_severity: SeverityName = Field(
        default=Severity.HIGH, description="severity assumed for advisories with none (pip-audit, UNKNOWN)"
    )
    required_scanners: tuple[Scanner, ...] = ("hadolint", "trivy", "secrets", "image")
    required_labels: tuple[NonBlank, ...] = DEFAULT_LABELS
    secrets: SecretsPolicy = SecretsPolicy()
    waivers: tuple[Waiver, ...] = ()

    @model_validator(mode="after")
    def _no_duplicate_waivers(self) -> ScanPolicy:
        seen: dict[tuple[str, str], int] = {}
        for i, w in enumerate(self.waivers):
            key = (w.id.casefold(), w.package.casefold())
            if key in seen:
                raise ValueError(
                    f"waivers[{i}] repeats waivers[{seen[key]}] ({w.id} in {w.package}); keep one"
                )
            seen[key] = i
        return self


def parse_policy(raw: Any, source: str = "scan-policy.yaml") -> ScanPolicy:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of policy keys, got {type(raw).__name__}")
    try:
        return ScanPolicy.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, source, docs="docs/scan.md") from None
