"""The scan verdict rendered: Markdown for the job summary and PR comment, SARIF 2.1.0 for GitHub
code scanning. Pure, like the gate (pipeline/gates/scan.py) whose typed rows it reads.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pipeline.gates.scan import ScanFinding, ScanRow, ScanVerdict
from pipeline.gates.scan_policy import Severity

# ---- Markdown ---------------------------------------------------------------------------------------------


EMPTY = "-"


def _cell(value: Any, limit: int = 90) -> str:
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("|", "\\|") or EMPTY


def _code(value: str) -> str:
    return f"`{_cell(value).replace('`', '')}`" if value else EMPTY


def to_markdown(
    verdict: ScanVerdict,
    blocking_limit: int = 50,
    other_limit: int = 20,
    findings_path: str = "reports/scan/findings.json",
) -> str:
    s = verdict.summary
    blocking = [r for r in verdict.rows if r.status == "blocking"]
    waived = [r for r in verdict.rows if r.status == "waived"]
    reported = [r for r in verdict.rows if r.status == "reported"]
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

    def table(title: str, rows: list[ScanRow], limit: int, last: str) -> None:
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
            f = r.finding
            tail = r.why if last == "why" else f.title
            lines.append(
                f"| {r.severity} | {_link(f)} | {_code(f.package)} | "
                f"{_cell(f.installed)} | {_cell(f.fixed)} | {_cell(r.place, 60)} | {_cell(tail)} |"
            )

    table("Blocking", blocking, blocking_limit, "title")
    table("Waived", waived, blocking_limit, "why")
    table("Not blocking", reported, other_limit, "why")
    for note in s.get("notes", []):
        lines += ["", f"> {note}"]
    return "\n".join(lines) + "\n"


def _link(f: ScanFinding) -> str:
    label = _cell(f.id, 40)
    return f"[{label}]({f.url})" if f.url.startswith("https://") else label


# ---- SARIF 2.1.0 ----------------------------------------------------------------------------------------

_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _level(r: ScanRow) -> str:
    if r.status == "blocking":
        return "error"
    return "warning" if r.severity.rank >= Severity.MEDIUM.rank else "note"


def to_sarif(verdict: ScanVerdict, dockerfile: str = "Dockerfile", tool_version: str = "0") -> dict[str, Any]:
    """SARIF 2.1.0 for GitHub code scanning: one run, one rule per finding id, one result per finding.

    GitHub shows results on files of the repository, so findings about the image are anchored on the
    Dockerfile (line 1) and name their real place (layer, path, package) in the message.
    """
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for r in verdict.rows:
        f = r.finding
        if f.id not in index:
            index[f.id] = len(rules)
            rule: dict[str, Any] = {
                "id": f.id,
                "shortDescription": {"text": _cell(f.title, 200)},
                "fullDescription": {"text": f.title},
                "defaultConfiguration": {"level": _level(r)},
                "properties": {"tags": ["security", f.kind, f.scanner], "precision": "high"},
            }
            if f.url:
                rule["helpUri"] = f.url
            rules.append(rule)
        props = rules[index[f.id]]["properties"]
        score = _SECURITY_SEVERITY.get(r.severity)
        if score and float(score) > float(props.get("security-severity", "0")):
            props["security-severity"] = score
        in_repo = f.kind == "lint" and bool(f.location)
        uri = f.location if in_repo else dockerfile
        text = "; ".join(
            p
            for p in (
                f"{r.severity} {f.title}",
                f"package {f.package}" if f.package and f.package != f.location else "",
                f"installed {f.installed}" if f.installed else "",
                f"fixed in {f.fixed}" if f.fixed else "",
                f"at {f.location}" if f.location and not in_repo else "",
                f"{r.status}: {r.why}",
            )
            if p
        )
        result: dict[str, Any] = {
            "ruleId": f.id,
            "ruleIndex": index[f.id],
            "level": _level(r),
            "message": {"text": text},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": int(f.line or 1) if in_repo else 1},
                    },
                    **(
                        {"logicalLocations": [{"name": f.location, "kind": "resource"}]}
                        if f.location and not in_repo
                        else {}
                    ),
                }
            ],
            "partialFingerprints": {"scanFinding/v1": _fingerprint(f)},
            "properties": {
                "scanner": f.scanner,
                "severity": str(r.severity),
                "status": r.status,
            },
        }
        if r.status == "waived":
            result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": r.why}]
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


def _fingerprint(f: ScanFinding) -> str:
    key = "|".join((f.scanner, f.id, f.package, f.location, f.installed))
    return hashlib.sha256(key.encode()).hexdigest()[:32]
