"""Tracking against a real MLflow server: a pipeline run logged after a real `dvc repro`, not duplicated when
nothing changed, the registry moved by the deploy doors, the report's MLflow section, and failures as one line.

Everything is read back through MLflow's own client (MlflowClient).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from pipeline.commands.base import Context
from pipeline.commands.deploy import _track
from pipeline.deploy.record import DeployRecord
from pipeline.paths import Paths
from pipeline.tracking.run_inputs import RUN_KEY_TAG
from tests.conftest import BIN
from tests.integration.conftest import ran, sh
from tests.mlflow_server import MlflowServer, free_port

pytestmark = pytest.mark.integration

MODEL = "mlops-ci-model"
TOKEN = "tok-never-print-0123456789"
PASSWORD = "pw-never-print-98765"


def track_env(uri: str, live: bool = True, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PIPELINE_TRACKING"))}
    if live:
        # The test server shares two cores with the suite (and whatever else runs): a request to it can take
        # longer than the 10 s default bound, which is meant for unreachable servers. An operator's own
        # MLFLOW_HTTP_REQUEST_TIMEOUT wins over the default, as here.
        env["MLFLOW_HTTP_REQUEST_TIMEOUT"] = "120"
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "GX_ANALYTICS_ENABLED": "False",
            "MLFLOW_TRACKING_URI": uri, **extra}


def pipeline(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "pipeline"), "-C", str(root), *args], capture_output=True, text=True,
                          env=env, timeout=300)


@pytest.fixture(scope="module")
def server_and_repo(mlflow_server_process: MlflowServer, repo: Path) -> tuple[str, Path]:
    # The server was started before `repo` ran its `dvc repro`, so the two boot side by side.
    return mlflow_server_process.wait(), repo


@pytest.fixture(scope="module")
def client(server_and_repo: tuple[str, Path]) -> MlflowClient:
    uri = server_and_repo[0]
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def first_log(server_and_repo: tuple[str, Path]) -> subprocess.CompletedProcess[str]:
    uri, root = server_and_repo
    result = pipeline(root, track_env(uri, MLFLOW_TRACKING_TOKEN=TOKEN), "track", "log")
    assert result.returncode == 0, result.stderr
    return result


def runs(client: MlflowClient) -> list[Any]:
    experiment = client.get_experiment_by_name("mlops-ci")
    assert experiment is not None
    return list(client.search_runs([experiment.experiment_id]))


def test_pipeline_run_is_logged_with_params_metrics_hashes_and_models(
    first_log: subprocess.CompletedProcess[str], client: MlflowClient, server_and_repo: tuple[str, Path]
) -> None:
    root = server_and_repo[1]
    assert first_log.stdout.startswith("tracking: logged run ")
    (run,) = runs(client)
    assert run.info.status == "FINISHED"
    # Params: exactly what train, export and evaluate read (their dvc.lock entries).
    assert run.data.params["train.model"] == "random_forest"
    assert run.data.params["train.random_forest.n_estimators"] == "200"
    assert run.data.params["evaluate.importance_repeats"] == "5"
    assert run.data.params["gates.data.suite"] == "gx/expectations/data.json"
    assert "gates.metrics.min_accuracy" not in run.data.params  # the gate stage is not part of the run
    # Metrics: every number of reports/metrics.json.
    import json

    metrics = json.loads((root / "reports/metrics.json").read_text())
    assert run.data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.metrics["per_class.Gentoo.recall"] == pytest.approx(metrics["per_class"]["Gentoo"]["recall"])

    def sha256(rel: str) -> str:
        return hashlib.sha256((root / rel).read_bytes()).hexdigest()

    tags = run.data.tags
    assert tags["pipeline.contract_sha256"] == sha256("gx/expectations/data.json")
    assert tags["pipeline.drift_reference_sha256"] == sha256("gx/expectations/drift.json")
    assert tags["pipeline.dvc_lock_sha256"] == sha256("dvc.lock")
    assert tags["pipeline.model_sha256"] == sha256("models/model.skops")
    assert tags["mlflow.source.git.commit"] == sh(root, "git", "rev-parse", "HEAD").stdout.strip()
    assert len(tags[RUN_KEY_TAG]) == 64
    artifacts = {a.path for d in ("plots", "pipeline", "model_files")
                 for a in client.list_artifacts(run.info.run_id, d)}
    assert {"plots/roc.json", "plots/confusion.png", "pipeline/dvc.lock", "pipeline/data.json",
            "model_files/model.skops", "model_files/model.onnx"} <= artifacts
    # Both models, each with a signature and an input example, loadable by MLflow.
    import mlflow

    mlflow.set_tracking_uri(server_and_repo[0])
    sklearn_info = mlflow.models.get_model_info(tags["pipeline.model_uri"])
    assert [i.name for i in sklearn_info.signature.inputs] == json.loads(
        (root / "models/model.json").read_text())["features"]
    assert sklearn_info.saved_input_example_info is not None
    onnx_info = mlflow.models.get_model_info(tags["pipeline.onnx_model_uri"])
    assert onnx_info.signature is not None and onnx_info.saved_input_example_info is not None
    assert "onnx" in onnx_info.flavors
    assert TOKEN not in first_log.stdout + first_log.stderr


def test_a_second_identical_pipeline_run_logs_nothing_new(
    first_log: subprocess.CompletedProcess[str], client: MlflowClient, server_and_repo: tuple[str, Path]
) -> None:
    uri, root = server_and_repo
    repro = sh(root, "dvc", "repro")
    assert ran(repro.stdout) == []  # every stage cached: DVC skipped them all
    again = pipeline(root, track_env(uri), "track", "log")
    assert again.returncode == 0, again.stderr
    assert "already logged for these inputs" in again.stdout and "nothing new" in again.stdout
    assert len(runs(client)) == 1


def _record(action: str, app: str, digest: str, release: int, commit: str) -> DeployRecord:
    record = DeployRecord(action, app, "local", outcome="deployed", git_commit=commit)
    record.release = {"id": f"r{release}", "version": release, "status": "succeeded"}
    record.images = [{"process_type": "web", "config_digest": digest, "manifest_digest": "sha256:" + "f" * 64}]
    return record


@pytest.fixture
def door_context(server_and_repo: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    uri, root = server_and_repo
    for name, value in track_env(uri).items():
        monkeypatch.setenv(name, value)
    yield Context(args=argparse.Namespace(track_alias=None), paths=Paths.at(root))


def test_deploy_registers_a_version_and_release_and_rollback_move_production(
    first_log: subprocess.CompletedProcess[str], client: MlflowClient, door_context: Context
) -> None:
    commit = "c" * 40
    first, second = "sha256:" + "1" * 64, "sha256:" + "2" * 64
    (run,) = runs(client)

    lines = _track(door_context, _record("deploy", "demo-staging", first, 7, commit))
    assert lines == [
        f"tracking: registered {MODEL} version 1 (run {run.info.run_id}); alias 'staging' now on version 1"]
    version = client.get_model_version_by_alias(MODEL, "staging")
    assert version.version == "1" and version.run_id == run.info.run_id
    assert version.tags["image_digest"] == first and version.tags["release"] == "7"
    assert version.tags["commit"] == commit

    # The release tag promotes that same image: `production` moves to the version staging registered for it.
    promoted = _record("promote", "demo-production", first, 3, commit)
    assert _track(door_context, promoted) == [f"tracking: alias 'production' of {MODEL} now on version 1"]
    assert client.get_model_version_by_alias(MODEL, "production").version == "1"
    assert client.get_model_version(MODEL, "1").tags["release.demo-production"] == "3"

    # A later merge and release, then a rollback of production back to the first.
    _track(door_context, _record("deploy", "demo-staging", second, 8, commit))
    assert client.get_model_version_by_alias(MODEL, "staging").version == "2"
    _track(door_context, _record("promote", "demo-production", second, 4, commit))
    assert client.get_model_version_by_alias(MODEL, "production").version == "2"
    rolled = _record("rollback", "demo-production", second, 5, commit)
    assert _track(door_context, rolled) == [
        f"tracking: alias 'production' of {MODEL} moved back to version 1 (from 2)"]
    assert client.get_model_version_by_alias(MODEL, "production").version == "1"
    # The same image deployed again is the same version, not a new one.
    _track(door_context, _record("deploy", "demo-staging", second, 9, commit))
    assert len(client.search_model_versions(f"name = '{MODEL}'")) == 2


def test_the_report_links_the_run_and_compares_with_production(
    first_log: subprocess.CompletedProcess[str], client: MlflowClient, server_and_repo: tuple[str, Path]
) -> None:
    uri, root = server_and_repo
    (run,) = runs(client)
    # Credentials in the URI and a token: the server ignores them, the output must never show them.
    with_credentials = uri.replace("http://", f"http://bot:{PASSWORD}@")
    result = pipeline(root, track_env(with_credentials, MLFLOW_TRACKING_TOKEN=TOKEN), "report")
    assert result.returncode == 0, result.stderr
    text = (root / "reports/report.md").read_text()
    assert "### MLflow" in text and f"/runs/{run.info.run_id}" in text
    production = client.get_model_version_by_alias(MODEL, "production")
    assert f"| metric | production (version {production.version}) | this run | delta |" in text
    assert "| `accuracy` |" in text
    again = pipeline(root, track_env(with_credentials, MLFLOW_TRACKING_TOKEN=TOKEN), "track", "log")
    assert again.returncode == 0 and "already logged" in again.stdout
    for output in (text, result.stdout, result.stderr, again.stdout, again.stderr):
        assert PASSWORD not in output and TOKEN not in output


@pytest.mark.timeout(120)
def test_an_unreachable_server_is_one_line_and_fails_only_when_required(server_and_repo: tuple[str, Path]) -> None:
    root = server_and_repo[1]
    dead = f"http://bot:{PASSWORD}@127.0.0.1:{free_port()}"
    started = time.monotonic()
    warned = pipeline(root, track_env(dead, live=False, MLFLOW_TRACKING_TOKEN=TOKEN), "track", "log")
    assert warned.returncode == 0
    (line,) = warned.stderr.splitlines()
    assert line.startswith(f"WARNING pipeline.tracking: tracking server {dead.replace(f'bot:{PASSWORD}@', '')}: "
                           "logging the pipeline run failed")
    assert warned.stdout == "tracking: run not logged (see the warning above)\n"
    required = pipeline(root, track_env(dead, live=False, MLFLOW_TRACKING_TOKEN=TOKEN,
                                        PIPELINE_TRACKING_REQUIRED="true"), "track", "log")
    assert required.returncode == 4
    (error,) = required.stderr.splitlines()
    assert error.startswith("error: tracking server ") and "set tracking.required: false" in error
    assert "Traceback" not in warned.stderr + required.stderr
    for output in (warned.stdout, warned.stderr, required.stdout, required.stderr):
        assert PASSWORD not in output and TOKEN not in output
    # Both attempts together, imports included, well inside the time MLflow's default retries would take.
    assert time.monotonic() - started < 60
