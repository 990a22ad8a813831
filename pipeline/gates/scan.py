"""Scan gate: one normalized findings list + scan-policy.yaml -> verdict, Markdown and SARIF.

Pure: the scanners' readers (pipeline.scan) do the I/O and hand over `ScanFinding`s; "today" is a
parameter so waiver expiry is testable.
"""

from __future__ import annotations

import hashlib
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


def _row(
    f: ScanFinding, status: Status, why: str, severity: Severity, extra: dict[str, Any] | None = None
) -> Finding:
    place = f"{f.location}:{f.line}" if f.location and f.line else f.location
    where = f"{f.package} ({place})" if place and f.package != f.location else (place or f.package)
    message = f"{severity} {f.title}" + (f"; installed {f.installed}, fixed in {f.fixed}" if f.fixed else "")
    detail = {
        **asdict(f),
        "severity": str(f.severity),
        "effective_severity": str(severity),
        "status": status,
        "why": why,
        **(extra or {}),
    }
    return Finding(rule=f.id, message=message, where=where, blocking=status == "blocking", detail=detail)


def _policy_finding(id_: str, subject: str, title: str, blocking: bool, where: str) -> Finding:
    f = ScanFinding(
        "policy", "policy", id_, subject, Severity.HIGH if blocking else Severity.LOW, title, location=where
    )
    return _row(f, "blocking" if blocking else "reported", title, f.severity)


def evaluate(
    findings: Iterable[ScanFinding],
    policy: ScanPolicy,
    ran: Collection[str],
    today: date,
    source: str = "scan-policy.yaml",
    notes: Iterable[str] = (),
    allow_missing: Collection[str] = (),
) -> Verdict:
    """Apply the policy: thresholds, fixed/unfixed, waivers (with expiry) and required scanners.

    `allow_missing` names required scanners whose absence this one run accepts (a local `make ci`
    has no Trivy); each is still reported, as a non-blocking finding, so the report says so.
    """
    rows: list[Finding] = []
    used: set[int] = set()
    for f in findings:
        blocks, severity, why = _decide(f, policy)
        status: Status = "blocking" if blocks else "reported"
        extra: dict[str, Any] = {}
        matching = [(i, w) for i, w in enumerate(policy.waivers) if w.matches(f.id, f.package)]
        active = [(i, w) for i, w in matching if w.expires >= today]
        if active:
            i, w = active[0]
            used.add(i)
            status, why = "waived", f"waived until {w.expires.isoformat()}: {w.reason}"
            extra = {"waiver": {"index": i, "expires": w.expires.isoformat(), "reason": w.reason}}
        elif matching:
            i, w = matching[0]
            used.add(i)
            why = f"{why}; its waiver expired on {w.expires.isoformat()}"
            extra = {"waiver": {"index": i, "expires": w.expires.isoformat(), "reason": w.reason}}
        rows.append(_row(f, status, why, severity, extra))

    missing = [s for s in policy.required_scanners if s not in ran]
    for scanner in missing:
        allowed = scanner in allow_missing
        rows.append(
            _policy_finding(
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
                _policy_finding(
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
                _policy_finding(
                    "policy.waiver-unused",
                    f"{w.id} in {w.package}",
                    f"waiver for {w.id} in {w.package} matches no finding; remove it",
                    blocking=False,
                    where=where,
                )
            )

    rows.sort(
        key=lambda r: (
            _ORDER[r.detail["status"]],
            -Severity(r.detail["effective_severity"]).rank,
            r.detail["scanner"],
            r.rule,
            r.detail["package"],
        )
    )
    scanned = [r for r in rows if r.detail["kind"] != "policy"]
    problems = [r for r in rows if r.detail["kind"] == "policy"]
    by_status = Counter(r.detail["status"] for r in rows)
    counts = {s.value: {"total": 0, "blocking": 0, "waived": 0} for s in Severity}
    for r in scanned:
        c = counts[r.detail["effective_severity"]]
        c["total"] += 1
        if r.detail["status"] != "reported":
            c[r.detail["status"]] += 1
    summary = {
        "policy": {
            "source": source,
            "threshold": str(policy.threshold),
            "only_fixed": policy.only_fixed,
            "today": today.isoformat(),
        },
        "scanners": {"ran": sorted(ran), "required": list(policy.required_scanners), "missing": missing},
        "counts": counts,
        "policy_problems": {"total": len(problems), "blocking": sum(r.blocking for r in problems)},
        "findings": len(scanned),
        "blocking": by_status["blocking"],
        "waived": by_status["waived"],
        "reported": by_status["reported"],
        "notes": list(notes),
    }
    return Verdict(gate="scan", passed=by_status["blocking"] == 0, findings=tuple(rows), summary=summary)


# ---- Markdown -------------------------------------------------------------------------------------------


EMPTY = "-"


def _cell(value: Any, limit: int = 90) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or EMPTY


def _code(value: str) -> str:
    return f"`{_cell(value).replace('`', '')}`" if value else EMPTY


def to_markdown(
    verdict: Verdict,
    blocking_limit: int = 50,
    other_limit: int = 20,
    findings_path: str = "reports/scan/findings.json",
) -> str:
    s = verdict.summary
    blocking = [r for r in verdict.findings if r.detail["status"] == "blocking"]
    waived = [r for r in verdict.findings if r.detail["status"] == "waived"]
    reported = [r for r in verdict.findings if r.detail["status"] == "reported"]
    icon, state = ("✅", "passed") if verdict.passed else ("❌", f"blocked by {len(blocking)} finding(s)")
    pol = s["policy"]
    rule = f"blocks {pol['threshold']} and above" + (" that have a fix" if pol["only_fixed"] else "")
    ran, missing = set(s["scanners"]["ran"]), set(s["scanners"]["missing"])
    scanners = ", ".join(
        f"{name} {'✅' if name in ran else ('❌ missing' if name in missing else 'not run')}"
        for name in ("hadolint", "trivy", "pip-audit", "secrets", "image")
    )
    lines = [
        f"### {icon} Scan gate: {state}",
        "",
        f"Policy `{pol['source']}` {rule}; secrets always block. Scanners: {scanners}.",
        "",
        "| severity | findings | blocking | waived |",
        "|---|---:|---:|---:|",
    ]
    for sev, c in s["counts"].items():
        if c["total"]:
            lines.append(f"| {sev} | {c['total']} | {c['blocking']} | {c['waived']} |")
    problems = s["policy_problems"]
    if problems["total"]:
        lines.append(f"| policy (scanners, waivers) | {problems['total']} | {problems['blocking']} | - |")
    lines.append(
        f"| **all** | **{s['findings'] + problems['total']}** | **{s['blocking']}** | **{s['waived']}** |"
    )

    def table(title: str, rows: list[Finding], limit: int, last: str) -> None:
        if not rows:
            return
        shown = rows[:limit]
        more = f" (first {limit} of {len(rows)}; all in `{findings_path}`)" if len(rows) > limit else ""
        lines.extend(
            [
                "",
                f"#### {title}{more}",
                "",
                f"| severity | id | package | installed | fixed | where | {last} |",
                "|---|---|---|---|---|---|---|",
            ]
        )
        for r in shown:
            d = r.detail
            where = f"{d['location']}:{d['line']}" if d.get("line") else d["location"]
            tail = d["why"] if last == "why" else d["title"]
            lines.append(
                f"| {d['effective_severity']} | {_link(d)} | {_code(d['package'])} | "
                f"{_cell(d['installed'])} | {_cell(d['fixed'])} | {_cell(where, 60)} | {_cell(tail)} |"
            )

    table("Blocking", blocking, blocking_limit, "title")
    table("Waived", waived, blocking_limit, "why")
    table("Not blocking", reported, other_limit, "why")
    for note in s.get("notes", []):
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def _link(d: dict[str, Any]) -> str:
    label = _cell(d["id"], 40)
    url = d.get("url") or ""
    return f"[{label}]({url})" if url.startswith("https://") else label


# ---- SARIF 2.1.0 ----------------------------------------------------------------------------------------

_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _level(d: dict[str, Any]) -> str:
    if d["status"] == "blocking":
        return "error"
    return "warning" if Severity(d["effective_severity"]).rank >= Severity.MEDIUM.rank else "note"


def to_sarif(verdict: Verdict, dockerfile: str = "Dockerfile", tool_version: str = "0") -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning: one run, one rule per finding id, one result per finding.

    GitHub shows results on files of the repository, so findings about the image are anchored on the
    Dockerfile (line 1) and name their real place (layer, path, package) in the message.
    """
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for r in verdict.findings:
        d = r.detail
        severity = Severity(d["effective_severity"])
        if r.rule not in index:
            index[r.rule] = len(rules)
            rule: dict[str, Any] = {
                "id": r.rule,
                "shortDescription": {"text": _cell(d["title"], 200)},
                "fullDescription": {"text": d["title"]},
                "defaultConfiguration": {"level": _level(d)},
                "properties": {"tags": ["security", d["kind"], d["scanner"]], "precision": "high"},
            }
            if d.get("url"):
                rule["helpUri"] = d["url"]
            rules.append(rule)
        props = rules[index[r.rule]]["properties"]
        score = _SECURITY_SEVERITY.get(severity)
        if score and float(score) > float(props.get("security-severity", "0")):
            props["security-severity"] = score
        in_repo = d["kind"] == "lint" and d["location"]
        uri = d["location"] if in_repo else dockerfile
        text = "; ".join(
            p
            for p in (
                f"{d['effective_severity']} {d['title']}",
                f"package {d['package']}" if d["package"] and d["package"] != d["location"] else "",
                f"installed {d['installed']}" if d["installed"] else "",
                f"fixed in {d['fixed']}" if d["fixed"] else "",
                f"at {d['location']}" if d["location"] and not in_repo else "",
                f"{d['status']}: {d['why']}",
            )
            if p
        )
        result: dict[str, Any] = {
            "ruleId": r.rule,
            "ruleIndex": index[r.rule],
            "level": _level(d),
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": int(d["line"] or 1) if in_repo else 1},
                    },
                    **(
                        {"logicalLocations": [{"name": d["location"], "kind": "resource"}]}
                        if d["location"] and not in_repo
                        else {}
                    ),
                }
            ],
            "partialFingerprints": {"scanFinding/v1": _fingerprint(d)},
            "properties": {
                "scanner": d["scanner"],
                "severity": d["effective_severity"],
                "status": d["status"],
            },
        }
        if d["status"] == "waived":
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": d["why"]}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "pipeline-scan", "version": tool_version, "rules": rules}},
                "automationDetails": {"id": "container-scan/"},
                "results": results,
            }
        ],
    }


def _fingerprint(d: dict[str, Any]) -> str:
    key = "|".join(str(d[k]) for k in ("scanner", "id", "package", "location", "installed"))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
