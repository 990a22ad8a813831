"""The merge and release doors under act: deploy.yml to the local Heroku target, then release.yml on a v* tag.

A push to main builds the image once, gates and scans it, deploys it to the staging app through the Platform API
and registry a user would point at Heroku (HEROKU_API_URL / HEROKU_REGISTRY), verifies it and records the
release candidate. The tag then promotes that exact manifest (by digest) to production and publishes a GitHub
Release on the API stand-in, with the candidate found through the API as on GitHub. Tracking is on, against a real
MLflow server (repository variable MLFLOW_TRACKING_URI, token as a secret): the deploy job logs the run and
registers the model as `staging`, the release moves `production` to that version, read back with MlflowClient. A
last merge whose image crashes on the platform alone is rolled back, and registers nothing.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from tests.e2e.workflows.conftest import PRODUCTION, STAGING
from tests.e2e.workflows.harness import Act, ActRun, git, push_event
from tests.github_standin import GitHubStandIn
from tests.mlflow_server import MlflowServer, mlflow_server

pytestmark = pytest.mark.e2e

TAG = "v1.0.0"
MODEL = "mlops-ci-model"  # tracking.model_name's default
TRACKING_TOKEN = "mlflow-wf-" + secrets.token_hex(12)


def live_image(heroku: Any, app: str) -> Any:
    """The web image of the app's current release, as the platform records it."""
    current = [r for r in heroku.platform.releases.all(app) if r.status == "succeeded"][-1]
    return current.images["web"]


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with mlflow_server(tmp_path_factory.mktemp("wf-mlflow")) as server:
        yield server


@pytest.fixture(scope="module")
def client(tracking: MlflowServer) -> MlflowClient:
    uri = tracking.wait()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def target(act: Act, heroku: Any, heroku_key: str, tracking: MlflowServer) -> Act:
    return act.but(env={"HEROKU_API_URL": heroku.api_url, "HEROKU_REGISTRY": heroku.registry_host,
                        # The test server shares two cores with the jobs: more than the 10 s meant for a dead one.
                        "MLFLOW_HTTP_REQUEST_TIMEOUT": "120"},
                   # Short watch windows after each release: the workflows' watch step runs, reading the app's
                   # own /metrics (no PROMETHEUS_URL), and its figures reach the record and the job summary.
                   vars={"HEROKU_STAGING_APP": STAGING, "HEROKU_PRODUCTION_APP": PRODUCTION,
                         "STAGING_WATCH": "8s", "PRODUCTION_WATCH": "8s", "MLFLOW_TRACKING_URI": tracking.wait()},
                   secrets={"HEROKU_API_KEY": heroku_key, "MLFLOW_TRACKING_TOKEN": TRACKING_TOKEN})


def versions(client: MlflowClient) -> list[Any]:
    return sorted(client.search_model_versions(f"name='{MODEL}'"), key=lambda v: int(v.version))


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
    assert heroku_key not in run.output and TRACKING_TOKEN not in run.output


def test_the_merge_logs_its_run_and_registers_the_deployed_image_as_staging(staging: tuple[ActRun, str],
                                                                            heroku: Any, client: MlflowClient) -> None:
    run, sha = staging
    assert run.returncode == 0, run.tail()
    assert "✅  Success - Main Log the run to MLflow" in run.output, run.tail()
    experiment = client.get_experiment_by_name("mlops-ci")
    assert experiment is not None
    logged = client.search_runs([experiment.experiment_id])
    assert len(logged) == 1 and logged[0].data.tags["mlflow.source.git.commit"] == sha
    assert "accuracy" in logged[0].data.metrics and logged[0].info.status == "FINISHED"
    (version,) = versions(client)
    live = live_image(heroku, STAGING)
    assert version.tags["image_digest"] == live.config_digest and version.tags["commit"] == sha
    assert version.run_id == logged[0].info.run_id
    assert client.get_model_version_by_alias(MODEL, "staging").version == version.version


def test_a_release_tag_promotes_the_digest_that_passed_staging(target: Act, github: GitHubStandIn,
                                                               repository: Path, heroku: Any,
                                                               staging: tuple[ActRun, str],
                                                               client: MlflowClient) -> None:
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
    # The registry's production alias follows the promoted image: the version staging registered.
    (version,) = versions(client)
    assert client.get_model_version_by_alias(MODEL, "production").version == version.version
    assert TRACKING_TOKEN not in release.output


def test_a_merge_whose_image_fails_only_on_the_platform_is_rolled_back(target: Act, repository: Path, heroku: Any,
                                                                       staging: tuple[ActRun, str],
                                                                       client: MlflowClient) -> None:
    # The last scenario of the module: staging holds the first merge's verified release.
    assert staging[0].returncode == 0, "needs the staging deploy"
    before = live_image(heroku, STAGING)
    git(repository, "checkout", "-q", "main")
    # Heroku's classic trap: the image works under `docker run` as its own USER (the build job's smoke test runs it
    # as 10001:0, group root), but a dyno runs as a random uid outside group 0, which cannot read the model: the
    # release crashes at boot on the platform alone.
    dockerfile = repository / "Dockerfile"
    private = "\nRUN chmod -R o-rwx /app/models\nUSER 10001:0\n"
    dockerfile.write_text(dockerfile.read_text().replace("\nUSER 10001:0\n", private))
    git(repository, "commit", "-qam", "model files readable by the image's group only")
    sha = git(repository, "rev-parse", "HEAD")
    run = target.run(repository, "push", push_event("refs/heads/main", sha), "deploy.yml")
    assert run.returncode != 0, run.tail()
    assert "✅  Success - Main Container smoke test" in run.output, "the smoke test must pass: a platform-only fault"
    assert "❌  Failure - Main Deploy, verify, watch, roll back on failure" in run.output, run.tail()
    assert "rolled back to v" in run.output, run.tail()
    assert not run.ran("Record the release candidate")
    # Staging serves the first merge's image again, as a new release, verified.
    after = live_image(heroku, STAGING)
    assert (after.manifest_digest, after.config_digest) == (before.manifest_digest, before.config_digest)
    releases = heroku.platform.releases.all(STAGING)
    assert releases[-1].status == "succeeded" and "Rollback" in releases[-1].description, releases[-1]
    # A deploy that failed registers nothing: `staging` still names the first merge's version.
    (version,) = versions(client)
    assert client.get_model_version_by_alias(MODEL, "staging").version == version.version
