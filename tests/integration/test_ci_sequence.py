"""The pull-request sequence on a fresh clone with real DVC and real GX, as far as it runs on this branch:
warm the cache, reproduce, both gates, the report, the PR number; then the files the workflow uploads exist
and become a comment body. A warm DVC remote (run-cache included) makes the next clone reproduce nothing."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(
    cwd: Path, *argv: str, env: dict[str, str] | None = None, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GX_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    out = subprocess.run(list(argv), cwd=cwd, env=full_env, capture_output=True, text=True, timeout=600)
    if ok:
        assert out.returncode == 0, f"{' '.join(argv)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def clone(tmp_path: Path, name: str) -> Path:
    dest = tmp_path / name
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(dest)], check=True, timeout=120)
    return dest


def uploaded_globs() -> list[str]:
    workflow = yaml.safe_load((ROOT / ".github/workflows/reusable-pr.yml").read_text())
    upload = workflow["jobs"]["pipeline"]["steps"][-1]
    assert "upload-artifact" in upload["uses"]
    return [line.strip() for line in upload["with"]["path"].splitlines() if line.strip()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One clone taken through the sequence; the tests below read what it produced."""
    repo = clone(tmp_path_factory.mktemp("seq"), "repo")
    pulled = run(repo, "pipeline", "ci", "pull")
    assert "dvc pull:" in pulled.stdout
    run(repo, "dvc", "repro")
    # The clone's repro skips validate (its reports come with the clone and match dvc.lock), so the data gate
    # reuses that verdict and builds no Data Docs, saying so.
    gate = run(repo, "pipeline", "gate", "data")
    assert "reused the verdict" in gate.stdout and "`pipeline gate data --fresh` builds them" in gate.stdout
    run(repo, "pipeline", "gate", "metrics", "--baseline", "main")
    event = repo.parent / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 5}}))
    run(
        repo,
        "pipeline",
        "ci",
        "pr-number",
        "--out",
        "reports/pr-number.txt",
        env={"GITHUB_EVENT_PATH": str(event)},
    )
    run(repo, "pipeline", "report", "--baseline", "main")
    return repo


def test_every_uploaded_path_matches_real_files(built: Path) -> None:
    assert not (built / "reports/data_docs").exists()  # see `built`: the verdict was reused
    run(built, "pipeline", "gate", "data", "--fresh")
    for pattern in uploaded_globs():
        matches = glob.glob(str(built / pattern))
        assert matches, f"the workflow uploads {pattern} but the sequence wrote nothing there"
    assert (built / "reports/data_docs/index.html").is_file()
    assert len(glob.glob(str(built / "reports/plots/*.png"))) == 4


def test_report_becomes_a_comment_body(built: Path) -> None:
    reports = built / "reports"
    out = run(
        built,
        "pipeline",
        "ci",
        "comment",
        "--dry-run",
        "--report",
        str(reports / "report.md"),
        "--report",
        str(reports / "scan.md"),
        "--pr-file",
        str(reports / "pr-number.txt"),
        "--run-url",
        "https://github.test/o/r/actions/runs/1",
    )
    body = out.stdout
    assert body.startswith("<!-- mlops-ci-pipeline:pr-report -->")
    assert "Data gate: passed" in body and "Metric gate: passed" in body
    assert "`confusion.png`" in body and "![" not in body and "pipeline-report" in body


def test_unreachable_remote_only_warns_unless_strict(tmp_path: Path) -> None:
    repo = clone(tmp_path, "fork")
    # A remote without credentials stands for any remote a fork cannot read.
    run(repo, "dvc", "remote", "add", "--default", "--force", "unreachable", "s3://no-such-bucket/cache")
    out = run(repo, "pipeline", "ci", "pull")
    assert out.stdout.startswith("warning: dvc pull skipped, `dvc repro` will rebuild what is missing: ")
    annotated = run(repo, "pipeline", "ci", "pull", env={"GITHUB_ACTIONS": "true"})
    assert annotated.stdout.startswith("::warning title=DVC remote unavailable::")
    strict = run(repo, "pipeline", "ci", "pull", "--strict", ok=False)
    assert strict.returncode == 4 and len(strict.stderr.strip().splitlines()) == 1


def test_warm_remote_makes_the_next_clone_reproduce_nothing(built: Path, tmp_path: Path) -> None:
    """The documented set-up: outputs pushed to the DVC remote and dvc.lock committed. The next pull request
    (a fresh clone, an empty local cache) pulls them and retrains nothing."""
    storage = tmp_path / "storage"
    run(built, "dvc", "remote", "add", "--default", "--force", "warm", str(storage))
    run(built, "dvc", "push", "--run-cache")
    run(built, "git", "add", "-A")
    run(
        built,
        "git",
        "-c",
        "user.name=ci",
        "-c",
        "user.email=ci@example.invalid",
        "commit",
        "-qm",
        "pipeline run",
    )
    repo = tmp_path / "next"
    run(tmp_path, "git", "clone", "--quiet", str(built), str(repo))
    pulled = run(repo, "pipeline", "ci", "pull")
    assert int(pulled.stdout.split("dvc pull: ")[1].split()[0]) > 0
    repro = run(repo, "dvc", "repro")
    for stage in ("ingest", "prepare", "validate", "train", "evaluate"):
        assert f"Stage '{stage}' didn't change, skipping" in repro.stdout, repro.stdout
