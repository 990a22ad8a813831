"""scan-policy.yaml and the pure scan gate: thresholds, fixed vs unfixed, waivers, required scanners."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import ConfigError
from pipeline.gates.scan import ScanFinding, ScanVerdict, WaiverUse, evaluate
from pipeline.gates.scan_policy import ScanPolicy, Severity, parse_policy
from pipeline.gates.scan_report import to_markdown, to_sarif
from pipeline.scan.policy import load_policy

REPO = Path(__file__).resolve().parents[2]
TODAY = date(2025, 6, 1)
ALL = ("hadolint", "trivy", "secrets", "image")


def vuln(
    id_: str = "CVE-2024-0001",
    package: str = "openssl",
    severity: Severity = Severity.HIGH,
    fixed: str = "3.0.14-1",
    **kw: Any,
) -> ScanFinding:
    return ScanFinding(
        "trivy",
        "vulnerability",
        id_,
        package,
        severity,
        f"{package} flaw",
        installed="3.0.11-1",
        fixed=fixed,
        location="app:1 (debian 12.5)",
        **kw,
    )


def policy(**raw: Any) -> ScanPolicy:
    return parse_policy(raw)


def waiver(
    id_: str = "CVE-2024-0001",
    package: str = "openssl",
    expires: str = "2025-12-31",
    reason: str = "not reachable: no TLS server in the image",
) -> dict[str, str]:
    return {"id": id_, "package": package, "reason": reason, "expires": expires}


def statuses(verdict) -> dict[str, str]:
    return {f"{r.rule}@{r.detail['package']}": r.detail["status"] for r in verdict.findings}


# ---- the policy file -------------------------------------------------------------------------------------


def test_repository_policy_loads_with_the_documented_defaults() -> None:
    loaded = load_policy(REPO / "scan-policy.yaml")
    assert loaded == ScanPolicy()
    assert loaded.threshold is Severity.HIGH and loaded.only_fixed
    assert set(loaded.required_scanners) == set(ALL)


def test_unknown_keys_and_malformed_waivers_are_reported_together_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "scan-policy.yaml"
    path.write_text(
        "threshhold: HIGH\n"
        "required_scanners: [hadolint, grype]\n"
        "waivers:\n"
        "  - id: CVE-2024-1\n"
        "    package: openssl\n"
        "    reason: ''\n"
        "    expires: 2025-13-01\n"
        "  - id: DL3008\n"
        "    package: Dockerfile\n"
        "    reason: pinned by digest instead\n"
        "    ticket: SEC-1\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as err:
        load_policy(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("scan-policy.yaml: ")
    for expected in (
        "threshhold is not a known key",
        "required_scanners[1] must be one of",
        "waivers[0].reason must not be empty",
        "waivers[0].expires must be a date",
        "waivers[1].expires is missing",
        "waivers[1].ticket is not a known key",
    ):
        assert expected in message, message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("threshold: SEVERE\n", "threshold must be one of"),
        ("waivers: {id: x}\n", "waivers: input should be a valid"),
        ("- just a list\n", "expected a mapping of policy keys"),
        ("threshold: [HIGH\n", "scan-policy.yaml:2: not valid YAML"),
        (
            "waivers:\n  - {id: A, package: b, reason: c, expires: 2030-01-01}\n"
            "  - {id: a, package: B, reason: d, expires: 2030-02-01}\n",
            "waivers[1] repeats waivers[0]",
        ),
        ("secrets: {max_file_bytes: 0}\n", "secrets.max_file_bytes"),
    ],
)
def test_bad_policies_fail_with_a_message_naming_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "scan-policy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scan-policy\.yaml") as err:
        load_policy(path)
    assert expected in str(err.value)


def test_missing_policy_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"create scan-policy\.yaml"):
        load_policy(tmp_path / "scan-policy.yaml")


def test_severity_names_are_case_insensitive_and_dates_may_be_quoted() -> None:
    p = policy(threshold="critical", waivers=[{**waiver(), "expires": "2030-01-31"}])
    assert p.threshold is Severity.CRITICAL and p.waivers[0].expires == date(2030, 1, 31)


# ---- thresholds and fixes --------------------------------------------------------------------------------


def test_default_policy_blocks_high_and_critical_with_a_fix_only() -> None:
    findings = [
        vuln("CVE-1", "a", Severity.CRITICAL),
        vuln("CVE-2", "b", Severity.HIGH),
        vuln("CVE-3", "c", Severity.MEDIUM),
        vuln("CVE-4", "d", Severity.LOW),
        vuln("CVE-5", "e", Severity.CRITICAL, fixed=""),
    ]
    verdict = evaluate(findings, policy(), ALL, TODAY)
    assert not verdict.passed
    assert statuses(verdict) == {
        "CVE-1@a": "blocking",
        "CVE-2@b": "blocking",
        "CVE-5@e": "reported",
        "CVE-3@c": "reported",
        "CVE-4@d": "reported",
    }
    unfixed = next(r for r in verdict.findings if r.rule == "CVE-5")
    assert "no fixed version" in unfixed.detail["why"]


def test_only_fixed_false_blocks_unfixed_vulnerabilities_too() -> None:
    verdict = evaluate([vuln(fixed="")], policy(only_fixed=False), ALL, TODAY)
    assert not verdict.passed


def test_threshold_medium_blocks_medium() -> None:
    findings = [vuln(severity=Severity.MEDIUM)]
    assert evaluate(findings, policy(), ALL, TODAY).passed
    assert not evaluate(findings, policy(threshold="MEDIUM"), ALL, TODAY).passed


def test_unrated_advisories_take_the_policy_severity() -> None:
    unrated = vuln(severity=Severity.UNKNOWN)
    assert not evaluate([unrated], policy(), ALL, TODAY).passed
    assert evaluate([unrated], policy(unrated_severity="LOW"), ALL, TODAY).passed


def test_secrets_block_at_any_severity_and_other_kinds_follow_the_threshold() -> None:
    secret = ScanFinding(
        "trivy", "secret", "jwt-token", "/app/.env", Severity.LOW, "JWT", location="/app/.env"
    )
    lint = ScanFinding(
        "hadolint", "lint", "DL3008", "Dockerfile", Severity.MEDIUM, "pin", location="Dockerfile", line=3
    )
    image = ScanFinding("image", "image", "image.root-user", "config.User", Severity.HIGH, "runs as root")
    verdict = evaluate([secret, lint, image], policy(), ALL, TODAY)
    assert statuses(verdict) == {
        "jwt-token@/app/.env": "blocking",
        "image.root-user@config.User": "blocking",
        "DL3008@Dockerfile": "reported",
    }


def test_no_findings_and_all_scanners_pass() -> None:
    verdict = evaluate([], policy(), ALL, TODAY)
    assert verdict.passed and verdict.summary["findings"] == 0


def test_a_required_scanner_that_did_not_run_blocks() -> None:
    verdict = evaluate([], policy(), ("hadolint", "secrets", "image"), TODAY)
    assert not verdict.passed
    (missing,) = verdict.blocking
    assert missing.rule == "policy.scanner-missing" and missing.detail["package"] == "trivy"
    assert verdict.summary["scanners"]["missing"] == ["trivy"]
    assert evaluate([], policy(required_scanners=["hadolint"]), ("hadolint",), TODAY).passed


# ---- waivers ---------------------------------------------------------------------------------------------


def test_a_valid_waiver_lets_its_finding_through_and_says_why() -> None:
    verdict = evaluate([vuln()], policy(waivers=[waiver()]), ALL, TODAY)
    assert verdict.passed
    (row,) = verdict.findings
    assert row.detail["status"] == "waived" and not row.blocking
    assert "until 2025-12-31" in row.detail["why"] and "no TLS server" in row.detail["why"]


def test_waiver_matches_id_and_package_only() -> None:
    other_pkg = evaluate([vuln(package="libssl3")], policy(waivers=[waiver()]), ALL, TODAY)
    assert not other_pkg.passed
    assert {r.rule for r in other_pkg.findings} == {"CVE-2024-0001", "policy.waiver-unused"}


def test_waiver_is_valid_through_its_expiry_day() -> None:
    assert evaluate([vuln()], policy(waivers=[waiver(expires="2025-06-01")]), ALL, TODAY).passed


def test_an_expired_waiver_fails_the_gate_and_says_so() -> None:
    verdict = evaluate([vuln()], policy(waivers=[waiver(expires="2025-05-31")]), ALL, TODAY)
    assert not verdict.passed
    by_rule = {r.rule: r for r in verdict.blocking}
    assert set(by_rule) == {"CVE-2024-0001", "policy.waiver-expired"}
    assert "waiver expired on 2025-05-31" in by_rule["CVE-2024-0001"].detail["why"]
    expired = by_rule["policy.waiver-expired"]
    assert "expired on 2025-05-31" in expired.message and expired.where.endswith("waivers[0])")


def test_an_expired_waiver_fails_even_when_its_finding_is_gone() -> None:
    verdict = evaluate([], policy(waivers=[waiver(expires="2024-01-01")]), ALL, TODAY)
    assert not verdict.passed and verdict.blocking[0].rule == "policy.waiver-expired"


def test_unused_waivers_are_reported_without_blocking() -> None:
    verdict = evaluate([], policy(waivers=[waiver()]), ALL, TODAY)
    assert verdict.passed
    assert [r.rule for r in verdict.findings] == ["policy.waiver-unused"]


def test_today_decides_expiry() -> None:
    p = policy(waivers=[waiver(expires="2025-06-30")])
    assert evaluate([vuln()], p, ALL, date(2025, 6, 30)).passed
    assert not evaluate([vuln()], p, ALL, date(2025, 7, 1)).passed


# ---- Markdown and SARIF ----------------------------------------------------------------------------------


def _mixed_verdict():
    findings = [
        vuln("CVE-LOW", "zlib1g", Severity.LOW),
        vuln("CVE-HIGH", "libc6", Severity.HIGH),
        vuln("CVE-WAIVED", "openssl", Severity.CRITICAL),
        ScanFinding(
            "hadolint",
            "lint",
            "DL3000",
            "Dockerfile",
            Severity.HIGH,
            "Use absolute WORKDIR | now",
            location="Dockerfile",
            line=4,
            url="https://github.com/hadolint/hadolint/wiki/DL3000",
        ),
    ]
    return evaluate(findings, policy(waivers=[waiver("CVE-WAIVED")]), ALL, TODAY)


def test_markdown_counts_by_severity_and_lists_blocking_first_with_versions() -> None:
    md = to_markdown(_mixed_verdict())
    assert md.startswith("### ❌ Scan gate: blocked by 2 finding(s)")
    assert "| CRITICAL | 1 | 0 | 1 |" in md and "| HIGH | 2 | 2 | 0 |" in md and "| LOW | 1 | 0 | 0 |" in md
    blocking, waived, rest = md.index("#### Blocking"), md.index("#### Waived"), md.index("#### Not blocking")
    assert blocking < waived < rest
    assert "`libc6` | 3.0.11-1 | 3.0.14-1 |" in md[blocking:waived]
    assert "Use absolute WORKDIR \\| now" in md  # a pipe in a title must not break the table
    assert "[DL3000](https://github.com/hadolint/hadolint/wiki/DL3000)" in md
    assert "| **all** | **4** | **2** | **1** |" in md


def test_markdown_counts_policy_problems_in_the_totals() -> None:
    verdict = evaluate([vuln()], policy(waivers=[waiver(expires="2024-01-01")]), ("hadolint",), TODAY)
    md = to_markdown(verdict)
    # the finding (its waiver expired), the expired waiver, and trivy, secrets and image not run
    assert "| policy (scanners, waivers) | 4 | 4 | - |" in md and "| **all** | **5** | **5** | **0** |" in md


def test_markdown_caps_long_lists_and_points_to_the_full_report() -> None:
    findings = [vuln(f"CVE-{i}", f"p{i}", Severity.LOW) for i in range(30)]
    md = to_markdown(evaluate(findings, policy(), ALL, TODAY), other_limit=5)
    assert "(first 5 of 30; all in `reports/scan/findings.json`)" in md
    assert md.count("| LOW | CVE-") == 5


def test_sarif_has_one_rule_per_id_levels_from_the_verdict_and_suppressed_waivers() -> None:
    sarif = to_sarif(_mixed_verdict(), dockerfile="docker/Dockerfile", tool_version="0.1.0")
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert sorted(r["id"] for r in rules) == ["CVE-HIGH", "CVE-LOW", "CVE-WAIVED", "DL3000"]
    results = {r["ruleId"]: r for r in run["results"]}
    assert results["CVE-HIGH"]["level"] == "error" and results["CVE-LOW"]["level"] == "note"
    assert results["CVE-WAIVED"]["suppressions"][0]["justification"].startswith("waived until 2025-12-31")
    lint = results["DL3000"]["locations"][0]["physicalLocation"]
    assert lint == {
        "artifactLocation": {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 4},
    }
    image = results["CVE-HIGH"]["locations"][0]
    assert image["physicalLocation"]["artifactLocation"]["uri"] == "docker/Dockerfile"
    assert image["logicalLocations"][0]["name"] == "app:1 (debian 12.5)"
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["CVE-WAIVED"]["properties"]["security-severity"] == "9.5"
    json.dumps(sarif)  # plain JSON types only


def test_allow_missing_reports_the_missing_scanner_without_blocking() -> None:
    ran = tuple(s for s in ALL if s != "trivy")
    assert not evaluate([], policy(), ran, TODAY).passed
    verdict = evaluate([], policy(), ran, TODAY, allow_missing=("trivy",))
    assert verdict.passed
    [missing] = [f for f in verdict.findings if f.rule == "policy.scanner-missing"]
    assert not missing.blocking and "accepted for this run only (--allow-missing)" in missing.message


def test_the_verdict_rows_are_typed_and_its_findings_are_those_rows() -> None:
    verdict = _mixed_verdict()
    assert isinstance(verdict, ScanVerdict)
    assert [r.to_finding() for r in verdict.rows] == list(verdict.findings)
    by_id = {r.finding.id: r for r in verdict.rows}
    assert by_id["CVE-WAIVED"].status == "waived" and by_id["CVE-WAIVED"].severity is Severity.CRITICAL
    assert by_id["CVE-WAIVED"].waiver == WaiverUse(0, date(2025, 12, 31), "not reachable: no TLS server in the image")
    assert by_id["CVE-HIGH"].status == "blocking" and by_id["CVE-HIGH"].waiver is None
    assert by_id["DL3000"].place == "Dockerfile:4"
    assert verdict.to_dict()["findings"][0]["detail"]["status"] == verdict.rows[0].status
