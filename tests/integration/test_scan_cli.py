"""`pipeline scan` as users and CI run it (the real console script), without a Docker engine."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "scan"
BIN = Path(sys.executable).parent

GOOD_DOCKERFILE = 'FROM local/python-base:3.11\nUSER 10001:10001\nCMD ["python3"]\n'
LINT_ONLY = "required_scanners: [hadolint, trivy]\n"


def scan(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    full.update(env or {})
    return subprocess.run(
        [str(BIN / "pipeline"), "-C", str(root), "scan", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=300,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text(GOOD_DOCKERFILE, encoding="utf-8")
    (root / "scan-policy.yaml").write_text(LINT_ONLY, encoding="utf-8")
    shutil.copy(DATA / "trivy-image.json", root / "trivy.json")
    return root


def test_blocked_scan_exits_1_writes_every_report_and_the_job_summary(project: Path) -> None:
    summary = project / "summary.md"
    result = scan(project, "--trivy-report", "trivy.json", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: scan gate failed: ")
    out = project / "reports" / "scan"
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "scan.md", "scan.sarif"]
    record = json.loads((out / "findings.json").read_text())
    blocking = {f["rule"] for f in record["findings"] if f["blocking"]}
    # glibc (HIGH, fixed), setuptools (HIGH, fixed), the secret, DS002 (HIGH); zlib is CRITICAL but unfixed
    assert blocking == {"CVE-2024-2961", "CVE-2024-6345", "aws-access-key-id", "DS002"}
    assert record["inputs"]["trivy_report"] == "trivy.json" and record["summary"]["scanners"]["missing"] == []
    md = (out / "scan.md").read_text()
    assert summary.read_text().strip() == md.strip()
    assert md.index("CVE-2024-2961") < md.index("CVE-2023-45853")  # blocking first
    sarif = json.loads((out / "scan.sarif").read_text())
    assert {r["ruleId"] for r in sarif["runs"][0]["results"] if r["level"] == "error"} == blocking


def test_waivers_let_the_same_report_pass_until_they_expire(project: Path) -> None:
    waivers = "".join(
        f"  - {{id: {i}, package: '{p}', reason: tracked in SEC-12, expires: 2030-01-31}}\n"
        for i, p in (
            ("CVE-2024-2961", "libc6"),
            ("CVE-2024-6345", "setuptools"),
            ("aws-access-key-id", "/app/config/settings.env"),
            ("DS002", "Dockerfile"),
        )
    )
    (project / "scan-policy.yaml").write_text(LINT_ONLY + "waivers:\n" + waivers, encoding="utf-8")
    passed = scan(project, "--trivy-report", "trivy.json", "--today", "2030-01-31")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith("scan gate passed: 8 findings, 4 waived")
    expired = scan(project, "--trivy-report", "trivy.json", "--today", "2030-02-01")
    assert expired.returncode == 1
    assert "expired on 2030-01-31" in (project / "reports" / "scan" / "scan.md").read_text()


def test_a_required_scanner_without_input_blocks(project: Path) -> None:
    result = scan(project)
    assert result.returncode == 1
    assert "scanner trivy is required by scan-policy.yaml" in result.stderr


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("threshold: SEVERE\n", "scan-policy.yaml: threshold must be one of"),
        ("waivers:\n  - {id: CVE-1, package: x, reason: y}\n", "waivers[0].expires is missing"),
        ("colour: red\n", "colour is not a known key"),
    ],
)
def test_bad_policy_exits_3_with_one_line(project: Path, policy: str, expected: str) -> None:
    (project / "scan-policy.yaml").write_text(policy, encoding="utf-8")
    result = scan(project, "--trivy-report", "trivy.json")
    assert result.returncode == 3 and expected in result.stderr and result.stderr.count("\n") == 1


def test_truncated_trivy_report_exits_3_and_writes_no_verdict(project: Path) -> None:
    text = (project / "trivy.json").read_text()
    (project / "trivy.json").write_text(text[: len(text) * 2 // 3])
    result = scan(project, "--trivy-report", "trivy.json")
    assert result.returncode == 3
    assert "trivy.json:" in result.stderr and "not valid JSON" in result.stderr
    assert not (project / "reports" / "scan" / "findings.json").exists()


@pytest.mark.timeout(120, func_only=True)
@pytest.mark.parametrize("hostile", ["oversized", "duplicate_severity", "nested_100k"])
def test_a_hostile_trivy_report_exits_3_and_leaves_the_previous_reports_as_they_were(
    project: Path, hostile: str
) -> None:
    assert scan(project, "--trivy-report", "trivy.json").returncode == 1  # the last good verdict: it blocks
    out = project / "reports" / "scan"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    report = project / "trivy.json"
    if hostile == "oversized":
        with report.open("r+b") as fh:  # sparse padding past the cap: refused by size, never read
            fh.truncate(33 << 20)
        expected = "over the 32 MiB the gate reads"
    elif hostile == "duplicate_severity":
        report.write_text(report.read_text().replace('"Severity": "HIGH"', '"Severity": "HIGH", "Severity": "LOW"'))
        expected = "duplicate key 'Severity'"
    else:
        report.write_text('{"SchemaVersion": 2, "Results": ' + "[" * 100_000 + "]" * 100_000 + "}")
        expected = "nested too deeply"
    result = scan(project, "--trivy-report", "trivy.json")
    assert result.returncode == 3, result.stderr
    assert result.stderr.count("\n") == 1 and expected in result.stderr and "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_unreachable_engine_exits_4_with_how_to_fix(project: Path) -> None:
    result = scan(
        project,
        "--trivy-report",
        "trivy.json",
        "--image",
        "scantest/none:1",
        env={"DOCKER_HOST": f"unix://{project}/no-docker.sock"},
    )
    assert result.returncode == 4, result.stderr
    assert "Docker engine unreachable" in result.stderr and "make engine" in result.stderr


def test_bad_today_is_a_usage_error(project: Path) -> None:
    assert scan(project, "--today", "31/01/2030").returncode == 2


def test_in_github_actions_blocking_findings_become_annotations_and_outputs_are_set(project: Path) -> None:
    (project / "Dockerfile").write_text(
        "FROM local/python-base:3.11\nWORKDIR app\nUSER 10001\n", encoding="utf-8"
    )
    outputs = project / "outputs.txt"
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(project / "s.md"),
    }
    blocked = scan(project, "--trivy-report", "trivy.json", env=env)
    assert blocked.returncode == 1
    annotations = [line for line in blocked.stdout.splitlines() if line.startswith("::error ")]
    assert "::error file=Dockerfile,line=2,title=DL3000 (hadolint)::" in blocked.stdout
    assert any(a.startswith("::error file=Dockerfile,title=CVE-2024-2961 (trivy)::") for a in annotations)
    assert len(annotations) == 5  # DL3000 and the four blocking Trivy findings
    assert "scan_passed<<ghadelimiter_7f3c\nfalse\n" in outputs.read_text()

    (project / "scan-policy.yaml").write_text("required_scanners: [hadolint]\n", encoding="utf-8")
    (project / "Dockerfile").write_text(GOOD_DOCKERFILE, encoding="utf-8")
    passed = scan(project, env=env)
    assert passed.returncode == 0, passed.stderr
    assert "scan_passed<<ghadelimiter_7f3c\ntrue\n" in outputs.read_text()
    assert "reports/scan/scan.sarif" in outputs.read_text()
