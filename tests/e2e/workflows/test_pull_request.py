"""The pull-request door under act: pr.yml's gates, image, scan and smoke test, then pr-comment.yml's one comment.

One pull request (#7) in order: a harmless first push passes every gate and gets one sticky comment; a second
push breaks the data, fails at the data gate with an annotation naming file and column, builds nothing, and the
same comment is updated to say why; the comment side also runs for a pull request from a fork.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.ci.comment import MARKER
from tests.e2e.workflows.harness import (
    REPOSITORY,
    Act,
    ActRun,
    git,
    pull_request_event,
    sdist_builds,
    workflow_run_event,
)
from tests.github_standin import GitHubStandIn

pytestmark = pytest.mark.e2e

PR = 7
BAD_DATA = Path(__file__).resolve().parents[2] / "data" / "bad" / "out_of_range.csv"
GATES = ["Data gate", "Metric gate", "Dockerfile lint", "Build the image", "Trivy image scan (JSON for the scan gate)",
         "Scan gate", "Container smoke test", "Report to the job summary", "Upload the report"]


def succeeded(run: ActRun, step: str) -> bool:
    return f"✅  Success - Main {step}" in run.output


def push(repository: Path, message: str) -> str:
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", message)
    return git(repository, "rev-parse", "HEAD")


def comment_on(act: Act, github: GitHubStandIn, repository: Path, report: Path, sha: str, conclusion: str,
               *, head_repo: str = REPOSITORY) -> ActRun:
    """What GitHub does when the pull-request run completes: pr-comment.yml, from the default branch's code,
    with the run's report artifact (the directory `report`) downloadable through the API."""
    run_id = github.add_run("pr.yml", sha, {"pipeline-report": report}, event="pull_request")
    branch = git(repository, "rev-parse", "--abbrev-ref", "HEAD")
    git(repository, "checkout", "-q", "main")
    try:
        return act.run(repository, "workflow_run",
                       workflow_run_event(run_id, sha, conclusion, head_repo=head_repo), "pr-comment.yml")
    finally:
        git(repository, "checkout", "-q", branch)


@pytest.fixture(scope="module")
def first_push(act: Act, repository: Path, github: GitHubStandIn) -> tuple[ActRun, str]:
    git(repository, "checkout", "-q", "-b", "feature")
    params = repository / "params.yaml"
    params.write_text(params.read_text() + "# a reviewer's nit\n")
    sha = push(repository, "nit")
    github.state.heads[PR] = sha
    return act.run(repository, "pull_request", pull_request_event(PR, sha), "pr.yml"), sha


def test_a_pull_request_runs_every_gate_and_uploads_the_report(first_push: tuple[ActRun, str]) -> None:
    run, _ = first_push
    assert run.returncode == 0, run.tail()
    missing = [step for step in GATES if not succeeded(run, step)]
    assert not missing, f"steps that did not succeed: {missing}\n{run.tail()}"
    # The data gate step reuses the verdict `make repro` just recorded instead of validating twice.
    assert "reused the verdict `dvc repro` recorded" in run.output
    # PIPELINE_TESTS=false turned the test-suite job off (it would re-enter this suite).
    assert not run.ran("Unit, integration and end-to-end tests")
    report = run.artifact("pipeline-report")
    assert (report / "pr-number.txt").read_text().strip() == str(PR)
    text = (report / "report.md").read_text()
    assert "Data gate" in text and "accuracy" in text
    assert (report / "scan" / "scan.md").is_file() and (report / "metrics.json").is_file()


def test_the_comment_workflow_posts_exactly_one_comment(act: Act, github: GitHubStandIn, repository: Path,
                                                        first_push: tuple[ActRun, str]) -> None:
    run, sha = first_push
    result = comment_on(act, github, repository, run.artifact("pipeline-report"), sha, "success")
    assert result.returncode == 0, result.tail()
    comments = github.state.comments[PR]
    assert len(comments) == 1 and MARKER in comments[0]["body"]
    assert sha[:7] in comments[0]["body"] and "accuracy" in comments[0]["body"]
    # The write token reached the API only in the comment job, and never in a log line.
    assert github.requests_to("POST", rf"/issues/{PR}/comments$")
    assert github.state.token not in result.output


@pytest.fixture(scope="module")
def broken_push(act: Act, repository: Path, github: GitHubStandIn,
                first_push: tuple[ActRun, str]) -> tuple[ActRun, str]:
    (repository / "data" / "source").mkdir(parents=True, exist_ok=True)
    shutil.copy2(BAD_DATA, repository / "data" / "source" / "penguins.csv")
    params = repository / "params.yaml"
    params.write_text(re.sub(r"(?m)^  source: .*$", "  source: data/source/penguins.csv", params.read_text()))
    sha = push(repository, "new data export")
    github.state.heads[PR] = sha
    return act.run(repository, "pull_request", pull_request_event(PR, sha), "pr.yml"), sha


def test_broken_data_fails_at_the_data_gate_and_builds_nothing(broken_push: tuple[ActRun, str]) -> None:
    run, _ = broken_push
    assert run.returncode != 0
    annotations = [line for line in run.output.splitlines() if "::error" in line]
    assert any("flipper_length_mm" in line and "penguins.csv" in line for line in annotations), run.tail()
    for step in ("Build the image", "Scan gate", "Container smoke test"):
        assert not run.ran(step), f"{step} ran after the data gate failed"
    # The report is still uploaded, so the comment can say why.
    assert "flipper_length_mm" in (run.artifact("pipeline-report") / "report.md").read_text()


def test_the_same_comment_is_updated_to_say_why(act: Act, github: GitHubStandIn, repository: Path,
                                                broken_push: tuple[ActRun, str]) -> None:
    run, sha = broken_push
    result = comment_on(act, github, repository, run.artifact("pipeline-report"), sha, "failure")
    assert result.returncode == 0, result.tail()
    comments = github.state.comments[PR]
    assert len(comments) == 1, "a second run must update the one comment, not add another"
    assert github.requests_to("PATCH", r"/issues/comments/\d+$")
    assert "flipper_length_mm" in comments[0]["body"] and sha[:7] in comments[0]["body"]


def test_a_pull_request_from_a_fork_is_commented_by_the_base_repository(
    act: Act, github: GitHubStandIn, repository: Path, first_push: tuple[ActRun, str]
) -> None:
    # A fork's run has no secrets and a read-only token, so its report is commented from the base repository's
    # workflow_run side. Its pull request is #8, with the first push's (passing) report.
    run, sha = first_push
    fork_report = run.workspace_root.parent / "fork-report"
    shutil.copytree(run.artifact("pipeline-report"), fork_report)
    (fork_report / "pr-number.txt").write_text("8\n")
    github.state.heads[8] = sha
    result = comment_on(act, github, repository, fork_report, sha, "success", head_repo="contributor/octo-model")
    assert result.returncode == 0, result.tail()
    assert len(github.state.comments[8]) == 1 and MARKER in github.state.comments[8][0]["body"]


def test_the_jobs_installs_built_no_sdist(sdist_builds_before: set[str]) -> None:
    # The last test of the tier: every job above ran `make install` in its own workspace.
    built = sorted(sdist_builds() - sdist_builds_before)
    assert not built, (f"the workflow jobs' installs built {built} from source: add the package to the Makefile's "
                       "SDIST_PINS so pip builds its wheel once into WHEELS")
