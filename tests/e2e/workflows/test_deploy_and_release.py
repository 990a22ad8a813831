"""The merge and release doors under act: deploy.yml to the local Heroku target, then release.yml on a v* tag.

A push to main builds the image once, gates and scans it, deploys it to the staging app through the Platform API
and registry a user would point at Heroku (HEROKU_API_URL / HEROKU_REGISTRY), verifies it and records the
release candidate. The tag then promotes that exact manifest (by digest) to production and publishes a GitHub
Release on the API stand-in, with the candidate found through the API as on GitHub.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.workflows.conftest import PRODUCTION, STAGING
from tests.e2e.workflows.harness import Act, ActRun, git, push_event
from tests.github_standin import GitHubStandIn

pytestmark = pytest.mark.e2e

TAG = "v1.0.0"


def live_image(heroku: Any, app: str) -> Any:
    """The web image of the app's current release, as the platform records it."""
    current = [r for r in heroku.platform.releases.all(app) if r.status == "succeeded"][-1]
    return current.images["web"]


@pytest.fixture(scope="module")
def target(act: Act, heroku: Any, heroku_key: str) -> Act:
    return act.but(env={"HEROKU_API_URL": heroku.api_url, "HEROKU_REGISTRY": heroku.registry_host},
                   # Short watch windows after each release: the workflows' watch step runs, reading the app's
                   # own /metrics (no PROMETHEUS_URL), and its figures reach the record and the job summary.
                   vars={"HEROKU_STAGING_APP": STAGING, "HEROKU_PRODUCTION_APP": PRODUCTION,
                         "STAGING_WATCH": "8s", "PRODUCTION_WATCH": "8s"},
                   secrets={"HEROKU_API_KEY": heroku_key})


@pytest.fixture(scope="module")
def staging(target: Act, repository: Path) -> tuple[ActRun, str]:
    git(repository, "checkout", "-q", "main")
    sha = git(repository, "rev-parse", "HEAD")
    return target.run(repository, "push", push_event("refs/heads/main", sha), "deploy.yml"), sha


def test_a_merge_deploys_the_scanned_image_to_staging(staging: tuple[ActRun, str], heroku: Any,
                                                      heroku_key: str) -> None:
    run, sha = staging
    assert run.returncode == 0, run.tail()
    for step in ("Scan gate", "Container smoke test", "Load the image the build job scanned (refused unless the id "
                 "matches)", "Deploy, verify, watch, roll back on failure", "Record the release candidate"):
        assert f"✅  Success - Main {step}" in run.output, f"{step} did not succeed\n{run.tail()}"
    candidate = json.loads((run.artifact("release-candidate") / "candidate.json").read_text())
    assert candidate["commit"] == sha and candidate["app"] == STAGING
    # What runs on staging is the image the build job scanned: same config digest (image id).
    assert live_image(heroku, STAGING).config_digest == candidate["image_id"]
    record = json.loads((run.artifact("release-candidate") / "deploy" / f"deploy-{STAGING}.json").read_text())
    assert record["outcome"] == "deployed", record
    assert record["watch"]["verdict"] == "clean" and record["watch"]["source"], record["watch"]
    assert "| watch window | clean after" in run.output
    assert heroku_key not in run.output


def test_a_release_tag_promotes_the_digest_that_passed_staging(target: Act, github: GitHubStandIn,
                                                               repository: Path, heroku: Any,
                                                               staging: tuple[ActRun, str]) -> None:
    run, sha = staging
    assert run.returncode == 0, "needs the staging deploy"
    github.add_run("deploy.yml", sha, {name: run.artifact(name) for name in ("image", "scan-report",
                                                                            "release-candidate")})
    git(repository, "tag", TAG)
    release = target.run(repository, "push", push_event(f"refs/tags/{TAG}", sha), "release.yml")
    assert release.returncode == 0, release.tail()
    assert "| watch window | clean after" in release.output, release.tail()
    staged, promoted = live_image(heroku, STAGING), live_image(heroku, PRODUCTION)
    assert promoted.manifest_digest == staged.manifest_digest
    assert promoted.config_digest == staged.config_digest
    published = github.state.releases[TAG]
    for section in ("accuracy", "Data gate", "Model card", staged.config_digest):
        assert section in published["body"], f"{section!r} missing from the release notes"
    assert github.requests_to("POST", r"/releases$")
