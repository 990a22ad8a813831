"""Scan gate: one normalized findings list + scan-policy.yaml -> a verdict of typed rows.

Pure: the scanners' readers (pipeline.scan) do the I/O and hand over `ScanFinding`s; "today" is a
parameter so waiver expiry is testable. Rendering the verdict (Markdown, SARIF) is
pipeline/gates/scan_report.py; the JSON record is `Verdict.to_dict()`, whose findings carry each
row's fields flat (`ScanRow.to_finding`), as every gate's findings do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

from pipeline.gates.scan_policy import ScanPolicy, Severity
from pipeline.gates.verdict import Finding, Verdict

Kind = Literal["vulnerability", "misconfiguration", "secret", "lint", "image", "policy"]
Status = Literal["blocking", "waived", "reported"]
_ORDER = {"blocking": 0, "waived": 1, "reported": 2}
_INPUTS = {
    "hadolint": "pass --dockerfile PATH",
    "trivy": "pass --trivy-report PATH (Trivy runs in the workflow: trivy image --format json)",
    "pip-audit": "pass --pip-audit-report PATH (pip-audit --format json)",
    "secrets": "pass --image REF",
    "image": "pass --image REF",
}


@dataclass(frozen=True)
class ScanFinding:
    """One finding from any scanner, in the shape the policy, the reports and SARIF share.

    `package` is the package for vulnerabilities and otherwise the finding's subject (the Dockerfile,
    a file in the image, a label): waivers name it. Secret values never enter this object.
    """

    scanner: str
    kind: Kind
    id: str
    package: str
    severity: Severity
    title: str
    installed: str = ""
    fixed: str = ""
    location: str = ""
    line: int | None = None
    url: str = ""

    @property
    def has_fix(self) -> bool:
        return bool(self.fixed.strip())


def _decide(f: ScanFinding, policy: ScanPolicy) -> tuple[bool, Severity, str]:
    """Would the policy block this finding before waivers? With the severity used and why."""
    severity = f.severity
    if severity is Severity.UNKNOWN and f.kind == "vulnerability":
        severity = policy.unrated_severity
    if f.kind == "secret":
        # A credential shipped in an image is never below the bar, whatever a scanner rated it.
        return True, severity, "secrets block at any severity"
    if severity.rank < policy.threshold.rank:
        return False, severity, f"below the threshold {policy.threshold}"
    if f.kind == "vulnerability" and policy.only_fixed and not f.has_fix:
        return False, severity, "no fixed version yet (only_fixed)"
    fix = " with a fix" if f.kind == "vulnerability" and f.has_fix else ""
    return True, severity, f"{severity}{fix} (threshold {policy.threshold})"


@dataclass(frozen=True)
class WaiverUse:
    """The waiver (by its index in the policy) that matched a finding, active or expired."""

    index: int
    expires: date
    reason: str


@dataclass(frozen=True)
class ScanRow:
    """One finding as the policy judged it: its status, the severity that counted, and why."""

    finding: ScanFinding
    status: Status
    why: str
    severity: Severity  # effective: an unrated vulnerability takes the policy's unrated_severity
    waiver: WaiverUse | None = None

    @property
    def place(self) -> str:
        """`location:line`, or the location alone when there is no line."""
        f = self.finding
        return f"{f.location}:{f.line}" if f.line else f.location

    def to_finding(self) -> Finding:
        f = self.finding
        place = self.place if f.location else ""
        where = f"{f.package} ({place})" if place and f.package != f.location else (place or f.package)
        message = f"{self.severity} {f.title}" + (f"; installed {f.installed}, fixed in {f.fixed}" if f.fixed else "")
        detail: dict[str, Any] = {
            **asdict(f),
            "severity": str(f.severity),
            "effective_severity": str(self.severity),
            "status": self.status,
            "why": self.why,
        }
        if self.waiver is not None:
            w = self.waiver
            detail["waiver"] = {"index": w.index, "expires": w.expires.isoformat(), "reason": w.reason}
        return Finding(rule=f.id, message=message, where=where, blocking=self.status == "blocking", detail=detail)


@dataclass(frozen=True)
class ScanVerdict(Verdict):
    """The scan gate's Verdict with its rows typed; `findings` holds the same rows as Findings."""

    rows: tuple[ScanRow, ...] = ()


def _policy_row(id_: str, subject: str, title: str, blocking: bool, where: str) -> ScanRow:
    f = ScanFinding(
        "policy", "policy", id_, subject, Severity.HIGH if blocking else Severity.LOW, title, location=where
    )
    return ScanRow(f, "blocking" if blocking else "reported", title, f.severity)


def evaluate(
    findings: Iterable[ScanFinding],
    policy: ScanPolicy,
    ran: Collection[str],
    today: date,
    source: str = "scan-policy.yaml",
    notes: Iterable[str] = (),
    allow_missing: Collection[str] = (),
) -> ScanVerdict:
    """Apply the policy: thresholds, fixed/unfixed, waivers (with expiry) and required scanners.

    `allow_missing` names required scanners whose absence this one run accepts (a local `make ci`
    has no Trivy); each is still reported, as a non-blocking finding, so the report says so.
    """
    rows: list[ScanRow] = []
    used: set[int] = set()
    for f in findings:
        blocks, severity, why = _decide(f, policy)
        status: Status = "blocking" if blocks else "reported"
        waiver: WaiverUse | None = None
        matching = [(i, w) for i, w in enumerate(policy.waivers) if w.matches(f.id, f.package)]
        active = [(i, w) for i, w in matching if w.expires >= today]
        if active:
            i, w = active[0]
            status, why = "waived", f"waived until {w.expires.isoformat()}: {w.reason}"
        elif matching:
            i, w = matching[0]
            why = f"{why}; its waiver expired on {w.expires.isoformat()}"
        if matching:
            used.add(i)
            waiver = WaiverUse(i, w.expires, w.reason)
        rows.append(ScanRow(f, status, why, severity, waiver))

    missing = [s for s in policy.required_scanners if s not in ran]
    for scanner in missing:
        allowed = scanner in allow_missing
        rows.append(
            _policy_row(
                "policy.scanner-missing",
                scanner,
                f"scanner {scanner} is required by {source} (required_scanners) but did not run; "
                + ("accepted for this run only (--allow-missing)" if allowed else
                   f"{_INPUTS.get(scanner, 'give it its input')} or remove it from required_scanners"),
                blocking=not allowed,
                where=f"{source} required_scanners",
            )
        )
    for i, w in enumerate(policy.waivers):
        where = f"{source} waivers[{i}]"
        if w.expires < today:
            rows.append(
                _policy_row(
                    "policy.waiver-expired",
                    f"{w.id} in {w.package}",
                    f"waiver for {w.id} in {w.package} expired on {w.expires.isoformat()} "
                    f"(reason was: {w.reason}); fix the finding, or renew it with a new date and reason",
                    blocking=True,
                    where=where,
                )
            )
        elif i not in used:
            rows.append(
                _policy_row(
                    "policy.waiver-unused",
                    f"{w.id} in {w.package}",
                    f"waiver for {w.id} in {w.package} matches no finding; remove it",
                    blocking=False,
                    where=where,
                )
            )

    rows.sort(key=lambda r: (_ORDER[r.status], -r.severity.rank, r.finding.scanner, r.finding.id, r.finding.package))
    scanned = [r for r in rows if r.finding.kind != "policy"]
    problems = [r for r in rows if r.finding.kind == "policy"]
    by_status = Counter(r.status for r in rows)
    counts = {s.value: {"total": 0, "blocking": 0, "waived": 0} for s in Severity}
    for r in scanned:
        c = counts[r.severity.value]
        c["total"] += 1
        if r.status != "reported":
            c[r.status] += 1
    summary = {
        "policy": {
            "source": source,
            "threshold": str(policy.threshold),
            "only_fixed": policy.only_fixed,
            "today": today.isoformat(),
        },
        "scanners": {"ran": sorted(ran), "required": list(policy.required_scanners), "missing": missing},
        "counts": counts,
        "policy_problems": {"total": len(problems), "blocking": sum(r.status == "blocking" for r in problems)},
        "findings": len(scanned),
        "blocking": by_status["blocking"],
        "waived": by_status["waived"],
        "reported": by_status["reported"],
        "notes": list(notes),
    }
    return ScanVerdict(gate="scan", passed=by_status["blocking"] == 0, findings=tuple(r.to_finding() for r in rows),
                       summary=summary, rows=tuple(rows))
