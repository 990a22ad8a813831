"""The suite passes on a GitHub Actions runner: the unit tier run with the variables a runner sets.

The pull-request workflow's `test` job runs `make test` on a runner, where `GITHUB_ACTIONS=true` makes the CLI
add `::error::` annotation lines and write step summaries. Tests that inherited those variables once failed on
every runner while passing here; this runs the unit tier the way a runner would, so that cannot come back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration


def runner_environment(tmp: Path) -> dict[str, str]:
    """The variables GitHub's runner sets for a `pull_request` job (docs: "Default environment variables")."""
    files = {name: tmp / f"{name.lower()}.txt" for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV",
                                                            "GITHUB_PATH", "GITHUB_STATE")}
    for path in files.values():
        path.write_text("", encoding="utf-8")
    event = tmp / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 7, "head": {"sha": "0" * 40}}}), encoding="utf-8")
    (tmp / "runner-temp").mkdir()
    return {
        **{name: str(path) for name, path in files.items()},
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": "octo-org/octo-model",
        "GITHUB_REPOSITORY_OWNER": "octo-org",
        "GITHUB_SHA": "0" * 40,
        "GITHUB_REF": "refs/pull/7/merge",
        "GITHUB_REF_NAME": "7/merge",
        "GITHUB_HEAD_REF": "feature",
        "GITHUB_BASE_REF": "main",
        "GITHUB_RUN_ID": "1",
        "GITHUB_RUN_NUMBER": "1",
        "GITHUB_RUN_ATTEMPT": "1",
        "GITHUB_JOB": "test",
        "GITHUB_WORKFLOW": "pull request",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_WORKSPACE": str(REPO),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_API_URL": "https://api.github.com",
        "RUNNER_OS": "Linux",
        "RUNNER_ARCH": "X64",
        "RUNNER_NAME": "GitHub Actions 1",
        "RUNNER_TEMP": str(tmp / "runner-temp"),
    }


def test_unit_tier_passes_with_a_runners_variables_and_leaves_the_runners_files_alone(tmp_path: Path) -> None:
    env = {**os.environ, **runner_environment(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not integration and not e2e",
         "tests/unit"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    # A test that wrote to the runner's summary, outputs or environment files would leak into the real job.
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE"):
        assert Path(env[name]).read_text(encoding="utf-8") == "", f"a unit test wrote to ${name}"
