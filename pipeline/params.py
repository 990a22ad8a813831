"""Typed, frozen parameters loaded once from params.yaml.

Every problem in the file is collected and reported together, each naming its key:
``params.yaml: gates.metrics.min_accuracy must be <= 1, got 1.7``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from model_server.safe_load import ParseError, load_yaml
from pipeline.config_errors import config_error
from pipeline.errors import ConfigError

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
# scikit-learn's random_state: an int in [0, 2**32 - 1].
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]


class _Frozen(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored default.
    model_config = ConfigDict(frozen=True, extra="forbid")


# A Spark conf key that names a credential: params.yaml is committed, so these come from the environment only.
_CREDENTIAL_KEY = re.compile(r"secret|password|passwd|token|credential|access\.key|session\.key", re.IGNORECASE)


# scheme://user@host or scheme://user:password@host, where an unencoded password may hold '/'.
_USERINFO = re.compile(r"^[A-Za-z][\w+.-]*://(?:[^/@]*@|[^/@:]*:[^@]*@)")


class SparkParams(_Frozen):
    """Where and how the data gate runs when `data.engine` is spark (pipeline/spark_engine.py)."""

    master: str = Field(default="local[2]", min_length=1,
                        description="spark.master: local[N], spark://host:7077, yarn, k8s://...")
    app_name: str = Field(default="mlops-ci-data-gate", min_length=1)
    # null: Spark reads the prepared splits; a path or URI (file://, s3a://, hdfs://; a file, directory or glob
    # of parquet): the gate validates that dataset instead, against the data and the drift suites.
    source: str | None = Field(default=None, min_length=1)
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict,
                                                      description="extra Spark conf, e.g. spark.executor.memory")

    @field_validator("conf")
    @classmethod
    def _no_credentials(cls, value: dict[str, Any]) -> dict[str, Any]:
        leaked = sorted(k for k in value if _CREDENTIAL_KEY.search(k))
        if leaked:
            raise ValueError(f"data.spark.conf.{leaked[0]} looks like a credential, and params.yaml is committed; "
                             "remove it and set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_SESSION_TOKEN) in "
                             "the environment instead")
        return value

    @field_validator("source")
    @classmethod
    def _no_userinfo(cls, value: str | None) -> str | None:
        if value is not None and _USERINFO.match(value):
            raise ValueError("data.spark.source must not carry credentials (params.yaml is committed); "
                             "set them in the environment instead")
        return value


class DataParams(_Frozen):
    source: str = Field(
        min_length=1, description="the CSV file to ingest: relative to the project root, or absolute"
    )
    raw: str = Field(description="where the immutable raw snapshot lives, relative to the repo root")
    target: str
    features: tuple[str, ...] = Field(min_length=1, description="model inputs; a subset of the contract's columns")
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    na_values: tuple[str, ...] = ("", "NA", "NaN")
    # What runs the data gate: pandas on this machine (bounded chunks, ~10M rows), or Spark (a cluster).
    engine: Literal["pandas", "spark"] = "pandas"
    spark: SparkParams = SparkParams()


class MissingParams(_Frozen):
    target: Literal["drop", "fail"] = "drop"
    features: Literal["impute", "drop"] = "impute"


class PrepareParams(_Frozen):
    test_size: Annotated[float, Field(gt=0.0, lt=1.0)]
    seed: Seed
    missing: MissingParams = MissingParams()


class RandomForestParams(_Frozen):
    n_estimators: Annotated[int, Field(ge=1, le=5000)] = 200
    max_depth: Annotated[int, Field(ge=1)] | None = None
    min_samples_leaf: Annotated[int, Field(ge=1)] = 1


class LogisticRegressionParams(_Frozen):
    C: Annotated[float, Field(gt=0.0)] = 1.0
    max_iter: Annotated[int, Field(ge=1)] = 1000


class TrainParams(_Frozen):
    model: Literal["random_forest", "logistic_regression"]
    seed: Seed
    random_forest: RandomForestParams = RandomForestParams()
    logistic_regression: LogisticRegressionParams = LogisticRegressionParams()


class EvaluateParams(_Frozen):
    importance_repeats: Annotated[int, Field(ge=1, le=100)] = 5
    positive_class: str | None = Field(
        default=None,
        description="binary tasks: the label ROC AUC, PR AUC and F1 are about; null: the last sorted label",
    )


class DataGateParams(_Frozen):
    suite: str = "gx/expectations/data.json"
    drift_suite: str = "gx/expectations/drift.json"
    max_examples: Annotated[int, Field(ge=0, le=100)] = 5


Compared = Literal["accuracy", "macro_f1", "roc_auc_ovr", "roc_auc", "pr_auc", "f1"]


class MetricGateParams(_Frozen):
    # Classification (binary and multiclass).
    min_accuracy: Fraction
    min_macro_f1: Fraction
    min_class_recall: Fraction
    # Binary classification only (of evaluate.positive_class); null: not gated.
    min_roc_auc: Fraction | None = None
    min_pr_auc: Fraction | None = None
    min_f1: Fraction | None = None
    # The git revision whose committed metrics a change must not fall below; null: no baseline comparison.
    baseline_rev: str | None = "main"
    tolerance: Annotated[float, Field(ge=0.0, le=1.0)] = 0.01
    compare: tuple[Compared, ...] = ("accuracy", "macro_f1")

    @field_validator("baseline_rev")
    @classmethod
    def _revision(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"gates.metrics.baseline_rev is {value!r}; give a git revision such as main, "
                             "or null for no baseline comparison")
        return value


class GateParams(_Frozen):
    data: DataGateParams = DataGateParams()
    metrics: MetricGateParams


class TrackingParams(_Frozen):
    """Optional MLflow tracking (`pipeline track`). No stage reads it, so editing it re-runs nothing."""

    # MLFLOW_TRACKING_URI in the environment wins; credentials never belong here (params.yaml is committed).
    uri: str | None = None
    experiment: str = Field(default="mlops-ci", min_length=1)
    model_name: str = Field(default="mlops-ci-model", min_length=1)
    # false: an unreachable server is a one-line warning and the command goes on; true: an error, exit 4.
    required: bool = False
    timeout_seconds: Annotated[float, Field(gt=0.0, le=120.0)] = 10.0

    @field_validator("uri")
    @classmethod
    def _no_credentials(cls, value: str | None) -> str | None:
        if value is not None and "@" in value.split("://", 1)[-1].split("/", 1)[0]:
            raise ValueError("tracking.uri must not carry credentials (params.yaml is committed); put the URI "
                             "in MLFLOW_TRACKING_URI and the token in MLFLOW_TRACKING_TOKEN instead")
        return value


class WatchParams(_Frozen):
    """Thresholds of the watch window after a deploy or promote (`--watch`). No stage reads them.

    Rates are over the window so far (from its start to the latest read), on `route` only: probes and
    Prometheus' own scrapes of /metrics do not dilute the error rate.
    """

    route: str = Field(default="/predict", pattern=r"^/", description="the route whose requests are judged")
    max_error_rate: Fraction = 0.05  # 5xx answers / all answers; 4xx (bad records) are the client's errors
    max_p99_latency_seconds: Annotated[float, Field(gt=0.0, le=60.0)] = 0.5
    # Error rate and latency count only once this many requests were answered: 1 error in 2 is no signal.
    min_requests: Annotated[int, Field(ge=1)] = 20
    max_drift_psi: Annotated[float, Field(gt=0.0)] = 0.25  # per feature, the worst one decides
    max_prediction_shift_psi: Annotated[float, Field(gt=0.0)] = 0.25
    # Drift counts only once the app's drift window holds this many records: PSI over few records is noise
    # (clean penguins samples cross 0.25 in 18% of windows of 100 records, 3% of 200, under 1% of 300).
    min_drift_records: Annotated[int, Field(ge=1)] = 300
    scrape_interval_seconds: Annotated[float, Field(gt=0.0, le=300.0)] = 10.0


class Params(_Frozen):
    data: DataParams
    prepare: PrepareParams
    train: TrainParams
    evaluate: EvaluateParams = EvaluateParams()
    gates: GateParams
    tracking: TrackingParams | None = None
    watch: WatchParams = WatchParams()


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping of stage names to settings, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        raise config_error(exc, source, docs="README 'Parameters'") from None


def load_params(path: Path) -> Params:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path.name}: not found at {path}; run from the project root") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text (offset {exc.start}); re-save it as UTF-8") from None
    try:
        raw = load_yaml(text)
    except ParseError as exc:
        raise ConfigError(exc.located(path.name)) from None
    return parse_params(raw, path.name)
