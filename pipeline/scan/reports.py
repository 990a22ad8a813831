"""Readers for scanner reports produced elsewhere: Trivy JSON (schema 2) and pip-audit JSON.

A report that cannot be read completely is an error naming the file and the first bad key, never
an empty list of findings: a truncated report must not pass the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from model_server.safe_load import ParseError, load_json
from pipeline.config_errors import key_path
from pipeline.errors import DataError
from pipeline.gates.scan import ScanFinding
from pipeline.gates.scan_policy import Severity, SeverityName

TRIVY_HOW = "regenerate it with `trivy image --format json --output {name} IMAGE`"
PIP_AUDIT_HOW = "regenerate it with `pip-audit --format json --output {name}`"
# Measured: a 56 MiB Trivy report (100k findings) took 1.7 GB and 29 s through the whole gate (it is parsed,
# judged and written again as findings.json and SARIF); a 200 MB one ended in MemoryError. Real image reports
# are a few MiB. The cap bounds memory near 1 GB and turns the crash into a message saying what to do.
MAX_REPORT_BYTES = 32 << 20


def _text(value: Any) -> Any:
    return "" if value is None else value


Text = Annotated[str, BeforeValidator(_text)]
Id = Annotated[str, Field(min_length=1)]


class _Report(BaseModel):
    # Scanners add fields between versions; only what the gate reads is checked.
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class TrivyVulnerability(_Report):
    id: Id = Field(alias="VulnerabilityID")
    package: Id = Field(alias="PkgName")
    installed: Text = Field(default="", alias="InstalledVersion")
    fixed: Text = Field(default="", alias="FixedVersion")
    severity: SeverityName = Field(alias="Severity")
    title: Text = Field(default="", alias="Title")
    url: Text = Field(default="", alias="PrimaryURL")
    pkg_path: Text = Field(default="", alias="PkgPath")


class TrivySecret(_Report):
    rule: Id = Field(alias="RuleID")
    severity: SeverityName = Field(alias="Severity")
    title: Text = Field(default="", alias="Title")
    category: Text = Field(default="", alias="Category")
    start_line: int | None = Field(default=None, alias="StartLine")


class TrivyCause(_Report):
    start_line: int | None = Field(default=None, alias="StartLine")


class TrivyMisconfiguration(_Report):
    id: Id = Field(alias="ID")
    severity: SeverityName = Field(alias="Severity")
    title: Text = Field(default="", alias="Title")
    message: Text = Field(default="", alias="Message")
    status: Text = Field(default="FAIL", alias="Status")
    url: Text = Field(default="", alias="PrimaryURL")
    cause: TrivyCause | None = Field(default=None, alias="CauseMetadata")


class TrivyResult(_Report):
    target: str = Field(alias="Target")
    klass: Text = Field(default="", alias="Class")
    type: Text = Field(default="", alias="Type")
    vulnerabilities: list[TrivyVulnerability] | None = Field(default=None, alias="Vulnerabilities")
    secrets: list[TrivySecret] | None = Field(default=None, alias="Secrets")
    misconfigurations: list[TrivyMisconfiguration] | None = Field(default=None, alias="Misconfigurations")


class TrivyMetadata(_Report):
    image_id: Text = Field(default="", alias="ImageID")
    diff_ids: list[str] | None = Field(default=None, alias="DiffIDs")


class TrivyReport(_Report):
    schema_version: Literal[2] = Field(alias="SchemaVersion")
    artifact: Id = Field(alias="ArtifactName")
    artifact_type: Text = Field(default="", alias="ArtifactType")
    metadata: TrivyMetadata = Field(default_factory=TrivyMetadata, alias="Metadata")
    results: list[TrivyResult] | None = Field(default=None, alias="Results")


class PipAuditVuln(_Report):
    id: Id
    fix_versions: list[str] = []
    aliases: list[str] = []
    description: Text = ""


class PipAuditDependency(_Report):
    name: Id
    version: Text = ""
    vulns: list[PipAuditVuln] = []
    skip_reason: Text = ""


class PipAuditReport(_Report):
    dependencies: list[PipAuditDependency]


@dataclass(frozen=True)
class Read:
    """Findings from one report, plus what it says about itself (for notes and cross-checks)."""

    findings: list[ScanFinding]
    notes: list[str]
    image_id: str = ""
    diff_ids: tuple[str, ...] = ()

    def describes(self, image_id: str, diff_ids: list[str]) -> bool | None:
        """Is this report about that image? None when the report does not say.

        The image id is the config digest with the classic image store but not with the containerd
        store, so the layers' diff ids (the same in both) also identify the image.
        """
        if not self.image_id and not self.diff_ids:
            return None
        return self.image_id == image_id or (bool(self.diff_ids) and list(self.diff_ids) == diff_ids)


def _problems(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        key = key_path(tuple(err["loc"]))
        if err["type"] == "missing":
            parts.append(f"{key} is missing")
        elif err["type"] in {"enum", "literal_error"}:
            parts.append(
                f"{key} must be one of {err.get('ctx', {}).get('expected')}, got {err.get('input')!r}"
            )
        else:
            parts.append(f"{key}: {err['msg'].lower()}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def _load_json(path: Path, what: str, how: str) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise DataError(
                f"{path}: the {what} is {size / 2**20:.0f} MiB, over the {MAX_REPORT_BYTES >> 20} MiB the gate reads "
                "(a larger one needs gigabytes of memory); scan fewer targets or severities "
                "(e.g. `trivy image --severity HIGH,CRITICAL`), or split the report"
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: {what} not found; {how}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the {what} ({exc.strerror}); {how}") from None
    if not raw.strip():
        raise DataError(f"{path}: {what} is empty; {how}")
    try:
        return load_json(raw, max_bytes=MAX_REPORT_BYTES)
    except ParseError as exc:
        raise DataError(f"{exc.located(str(path))} (the {what}); {how}") from None


def read_trivy(path: Path) -> Read:
    how = TRIVY_HOW.format(name=path.name)
    raw = _load_json(path, "Trivy report", how)
    if not isinstance(raw, dict):
        raise DataError(
            f"{path}: not a Trivy JSON report (expected an object with SchemaVersion 2, "
            f"got a {type(raw).__name__}); {how}"
        )
    try:
        report = TrivyReport.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{path}: not a Trivy JSON report of schema 2: {_problems(exc)}; {how}") from None

    findings: list[ScanFinding] = []
    for result in report.results or []:
        for v in result.vulnerabilities or []:
            where = f"{result.target}" + (f" {v.pkg_path}" if v.pkg_path else "")
            findings.append(
                ScanFinding(
                    "trivy",
                    "vulnerability",
                    v.id,
                    v.package,
                    v.severity,
                    v.title or v.id,
                    installed=v.installed,
                    fixed=v.fixed,
                    location=where,
                    url=v.url,
                )
            )
        for s in result.secrets or []:
            # Trivy's Match and Code carry (masked) secret text: never copied.
            findings.append(
                ScanFinding(
                    "trivy",
                    "secret",
                    s.rule,
                    result.target,
                    s.severity,
                    s.title or s.category or s.rule,
                    location=result.target,
                    line=s.start_line,
                )
            )
        for m in result.misconfigurations or []:
            if m.status.upper() != "FAIL":
                continue
            title = ": ".join(p for p in (m.title, m.message) if p) or m.id
            findings.append(
                ScanFinding(
                    "trivy",
                    "misconfiguration",
                    m.id,
                    result.target,
                    m.severity,
                    title,
                    location=result.target,
                    line=m.cause.start_line if m.cause else None,
                    url=m.url,
                )
            )
    targets = len(report.results or [])
    notes = [] if targets else [f"{path.name}: Trivy scanned {report.artifact} and reported no targets"]
    meta = report.metadata
    return Read(findings, notes, image_id=meta.image_id, diff_ids=tuple(meta.diff_ids or ()))


def read_pip_audit(path: Path) -> Read:
    how = PIP_AUDIT_HOW.format(name=path.name)
    raw = _load_json(path, "pip-audit report", how)
    if isinstance(raw, list):  # pip-audit before 2.5 wrote the dependency list alone
        raw = {"dependencies": raw}
    if not isinstance(raw, dict):
        raise DataError(
            f"{path}: not a pip-audit JSON report (expected an object with 'dependencies'); {how}"
        )
    try:
        report = PipAuditReport.model_validate(raw)
    except ValidationError as exc:
        raise DataError(f"{path}: not a pip-audit JSON report: {_problems(exc)}; {how}") from None

    findings: list[ScanFinding] = []
    skipped = []
    for dep in report.dependencies:
        if dep.skip_reason:
            skipped.append(dep.name)
            continue
        for v in dep.vulns:
            # Name it by its CVE when it has one, so one waiver covers Trivy's report of the same advisory.
            cve = next((a for a in v.aliases if a.upper().startswith("CVE-")), "")
            also = [a for a in (v.id, *v.aliases) if a != (cve or v.id)]
            summary = v.description.strip().split("\n", 1)[0] if v.description.strip() else ""
            title = summary or f"advisory {v.id}"
            if also:
                title += f" (also {', '.join(also)})"
            findings.append(
                ScanFinding(
                    "pip-audit",
                    "vulnerability",
                    cve or v.id,
                    dep.name,
                    Severity.UNKNOWN,
                    title,
                    installed=dep.version,
                    fixed=", ".join(v.fix_versions),
                    location="python environment",
                    url=f"https://osv.dev/vulnerability/{v.id}",
                )
            )
    notes = []
    if skipped:
        notes.append(
            f"{path.name}: pip-audit skipped {len(skipped)} package(s) it could not audit "
            f"(e.g. {', '.join(skipped[:3])})"
        )
    return Read(findings, notes)
