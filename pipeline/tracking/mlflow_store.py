"""The one module that talks to MLflow: log a pipeline run, register its model, move the door aliases.

Everything here may raise whatever MLflow or the network raise; `pipeline.tracking.guard` turns that into one
redacted line. mlflow is imported inside the constructor, after the HTTP client's retries and timeout are
bounded (MLflow reads those variables at each request, and retries for minutes by default).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from pipeline.tracking.run_inputs import RUN_KEY_TAG, PipelineRun
from pipeline.tracking.settings import TrackingSettings

MODEL_URI_TAG = "pipeline.model_uri"
ONNX_URI_TAG = "pipeline.onnx_model_uri"
_HISTORY_TAG = "pipeline.alias_history.{alias}"
_HISTORY_LENGTH = 20


@dataclass(frozen=True)
class LoggedRun:
    run_id: str
    created: bool
    url: str


@dataclass(frozen=True)
class AliasMove:
    alias: str
    version: str
    previous: str | None
    created_version: bool = False


@dataclass(frozen=True)
class VersionMetrics:
    version: str
    run_id: str
    metrics: dict[str, float]


class MlflowStore:
    def __init__(self, settings: TrackingSettings) -> None:
        for name, value in settings.client_environment().items():
            os.environ.setdefault(name, value)  # an operator's own choice wins
        import mlflow
        from mlflow import MlflowClient

        self._mlflow = mlflow
        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.uri, registry_uri=settings.uri)

    # -- runs ----------------------------------------------------------------------------------------------

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.settings.display_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def _experiment_id(self, create: bool) -> str | None:
        experiment = self.client.get_experiment_by_name(self.settings.experiment)
        if experiment is not None:
            return str(experiment.experiment_id)
        return str(self.client.create_experiment(self.settings.experiment)) if create else None

    def find_run(self, run_key: str) -> LoggedRun | None:
        experiment_id = self._experiment_id(create=False)
        if experiment_id is None:
            return None
        found = self.client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}'", max_results=1
        )
        if not found:
            return None
        return LoggedRun(found[0].info.run_id, False, self.run_url(experiment_id, found[0].info.run_id))

    def log_run(self, run: PipelineRun) -> LoggedRun:
        """One MLflow run per distinct pipeline run: an existing run under the same key is returned as is."""
        existing = self.find_run(run.run_key)
        if existing is not None:
            return existing
        from mlflow.entities import Metric, Param, RunTag

        experiment_id = self._experiment_id(create=True)
        assert experiment_id is not None
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.settings.uri)
        mlflow.set_registry_uri(self.settings.uri)
        # The key tag is set last: a run that failed half-way is marked FAILED and is never taken for this
        # pipeline run, so the next attempt logs a complete one.
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"pipeline-{run.run_key[:12]}") as active:
            run_id = active.info.run_id
            now = int(time.time() * 1000)
            self.client.log_batch(
                run_id,
                metrics=[Metric(k, v, now, 0) for k, v in sorted(run.metrics.items())],
                params=[Param(k, v[:6000]) for k, v in sorted(run.params.items())],
                tags=[RunTag(k, v) for k, v in sorted(run.tags.items()) if k != RUN_KEY_TAG],
            )
            for directory, files in run.artifacts.items():
                for path in files:
                    self.client.log_artifact(run_id, str(path), artifact_path=directory)
            uris = _log_models(mlflow, run)
            for tag, uri in uris.items():
                self.client.set_tag(run_id, tag, uri)
            self.client.set_tag(run_id, RUN_KEY_TAG, run.run_key)
        return LoggedRun(run_id, True, self.run_url(experiment_id, run_id))

    # -- registry ------------------------------------------------------------------------------------------

    def _ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.settings.model_name)
        except MlflowException:
            self.client.create_registered_model(
                self.settings.model_name, description="Registered by `pipeline deploy` (mlops-ci)"
            )

    def _versions(self) -> list[Any]:
        return list(self.client.search_model_versions(f"name = '{self.settings.model_name}'"))

    def version_with_tag(self, key: str, value: str) -> str | None:
        matches = [v for v in self._versions() if v.tags.get(key) == value]
        return str(max(int(v.version) for v in matches)) if matches else None

    def register(self, run_id: str, tags: dict[str, str]) -> tuple[str, bool]:
        """A version for the run's model with these tags; the same image deployed again reuses its version."""
        self._ensure_registered_model()
        digest = tags.get("image_digest")
        if digest and (known := self.version_with_tag("image_digest", digest)) is not None:
            for key, value in tags.items():
                self.client.set_model_version_tag(self.settings.model_name, known, key, value)
            return known, False
        source = self.client.get_run(run_id).data.tags.get(MODEL_URI_TAG)
        if not source:
            raise LookupError(f"run {run_id} has no logged model (tag {MODEL_URI_TAG}); log it with "
                              "`pipeline track log` after `dvc repro`")
        # MLflow 3 logs models as LoggedModel entities (models:/<model_id>); the registry wants that id too.
        model_id = source.removeprefix("models:/") if source.startswith("models:/") else None
        version = self.client.create_model_version(
            self.settings.model_name, source, run_id=run_id, tags=tags, model_id=model_id
        )
        return str(version.version), True

    def _history(self, alias: str) -> list[str]:
        model = self.client.get_registered_model(self.settings.model_name)
        raw = model.tags.get(_HISTORY_TAG.format(alias=alias), "[]")
        try:
            history = json.loads(raw)
        except ValueError:
            return []
        return [str(v) for v in history] if isinstance(history, list) else []

    def _current(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.settings.model_name, alias).version)
        except MlflowException:
            return None

    def move_alias(self, alias: str, version: str) -> AliasMove:
        """Point `alias` at `version`, remembering where it pointed so a rollback can move it back."""
        previous = self._current(alias)
        self.client.set_registered_model_alias(self.settings.model_name, alias, version)
        history = self._history(alias)
        if not history or history[-1] != version:
            history.append(version)
        self.client.set_registered_model_tag(
            self.settings.model_name, _HISTORY_TAG.format(alias=alias), json.dumps(history[-_HISTORY_LENGTH:])
        )
        return AliasMove(alias, version, previous)

    def roll_back_alias(self, alias: str) -> AliasMove:
        """Move `alias` back to the version it pointed at before its last move."""
        history = self._history(alias)
        if len(history) < 2:
            raise LookupError(f"alias {alias!r} of {self.settings.model_name!r} has no earlier version to "
                              "roll back to")
        current, target = history[-1], history[-2]
        self.client.set_registered_model_alias(self.settings.model_name, alias, target)
        self.client.set_registered_model_tag(
            self.settings.model_name, _HISTORY_TAG.format(alias=alias), json.dumps(history[:-1])
        )
        return AliasMove(alias, target, current)

    def alias_metrics(self, alias: str) -> VersionMetrics | None:
        from mlflow.exceptions import MlflowException

        try:
            version = self.client.get_model_version_by_alias(self.settings.model_name, alias)
        except MlflowException:
            return None
        if not version.run_id:
            return None
        run = self.client.get_run(version.run_id)
        return VersionMetrics(str(version.version), version.run_id, dict(run.data.metrics))


def _log_models(mlflow: Any, run: PipelineRun) -> dict[str, str]:
    """Log the scikit-learn model and its ONNX export, each with a signature and an input example."""
    if run.model_path is None or run.model_meta_path is None or run.test_split is None:
        return {}
    import onnxruntime
    import pandas as pd
    import sklearn
    from mlflow.models import infer_signature

    from pipeline import model as model_artifact

    loaded = model_artifact.load(run.model_path, run.model_meta_path)  # the integrity check first
    example = pd.read_parquet(run.test_split)[loaded.features].head(5)
    signature = infer_signature(example, loaded.estimator.predict(example))
    # Explicit requirements: MLflow would otherwise infer them by loading the model in a subprocess.
    sklearn_info = mlflow.sklearn.log_model(
        loaded.estimator, name="model", signature=signature, input_example=example,
        # MLflow saves it with skops too; the types train recorded are the ones the project trusts.
        skops_trusted_types=list(loaded.meta.skops_types or ()),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}"],
    )
    uris = {MODEL_URI_TAG: sklearn_info.model_uri}
    if run.onnx_path is not None:
        import onnx

        onnx_example = _onnx_inputs(run, example)
        onnx_info = mlflow.onnx.log_model(
            onnx.load(str(run.onnx_path)), name="onnx_model",
            signature=infer_signature(onnx_example) if onnx_example else None,
            input_example=onnx_example or None,
            onnx_execution_providers=["CPUExecutionProvider"],  # what the serving image runs
            pip_requirements=[f"onnxruntime=={onnxruntime.__version__}", f"onnx=={onnx.__version__}"],
        )
        uris[ONNX_URI_TAG] = onnx_info.model_uri
    return uris


def _onnx_inputs(run: PipelineRun, example: Any) -> dict[str, Any]:
    """The rows of the example as the graph takes them (one tensor per column, see served_model)."""
    from model_server.contract import load_contract
    from model_server.served_model import graph_inputs

    if run.contract_path is None:
        return {}
    columns = [c for c in load_contract(run.contract_path).columns if c.name in example.columns]
    values = {c.name: [None if _is_missing(v) else v for v in example[c.name].tolist()] for c in columns}
    return graph_inputs(columns, values)


def _is_missing(value: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
