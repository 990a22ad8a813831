"""Tracking without a server: settings from environment and params, the run key, the guard, the report section."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from pipeline.errors import ConfigError, ExternalError
from pipeline.gates.report import compose, tracking_md
from pipeline.params import Params
from pipeline.tracking.guard import guarded
from pipeline.tracking.run_inputs import TRACKED_STAGES, numeric_metrics, run_key
from pipeline.tracking.settings import resolve, without_userinfo

TOKEN = "tok-0123456789abcdef"
PASSWORD = "pa55-w0rd-xyz"


def test_tracking_is_off_without_a_uri(make_params: Callable[..., Params]) -> None:
    assert resolve(make_params().tracking, env={}) is None
    assert resolve(None, env={"MLFLOW_TRACKING_URI": "  "}) is None


def test_environment_uri_wins_over_params(make_params: Callable[..., Params]) -> None:
    params = make_params(**{"tracking": {"uri": "http://from-params:5000", "experiment": "penguins"}})
    from_params = resolve(params.tracking, env={})
    assert from_params is not None and from_params.uri == "http://from-params:5000"
    assert from_params.experiment == "penguins" and not from_params.required
    from_env = resolve(params.tracking, env={"MLFLOW_TRACKING_URI": "https://mlflow.example.com"})
    assert from_env is not None and from_env.uri == "https://mlflow.example.com"


def test_required_can_be_forced_from_the_environment() -> None:
    settings = resolve(None, env={"MLFLOW_TRACKING_URI": "http://h:1", "PIPELINE_TRACKING_REQUIRED": "true"})
    assert settings is not None and settings.required
    with pytest.raises(ConfigError, match="PIPELINE_TRACKING_REQUIRED='maybe' is not a boolean"):
        resolve(None, env={"MLFLOW_TRACKING_URI": "http://h:1", "PIPELINE_TRACKING_REQUIRED": "maybe"})


def test_a_non_http_store_is_refused_in_one_line() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        resolve(None, env={"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"})


def test_params_refuse_credentials_in_the_committed_uri(make_params: Callable[..., Params]) -> None:
    with pytest.raises(ConfigError, match=r"tracking\.uri must not carry credentials"):
        make_params(**{"tracking": {"uri": f"https://bot:{PASSWORD}@mlflow.example.com"}})


def test_credentials_never_reach_repr_or_redacted_text() -> None:
    env = {"MLFLOW_TRACKING_URI": f"https://bot:{PASSWORD}@mlflow.example.com/", "MLFLOW_TRACKING_TOKEN": TOKEN}
    settings = resolve(None, env=env)
    assert settings is not None
    assert settings.display_uri == "https://mlflow.example.com/" == without_userinfo(settings.uri)
    shown = repr(settings) + str(settings)
    assert PASSWORD not in shown and TOKEN not in shown
    scrubbed = settings.redactor()(f"GET {settings.uri} with Bearer {TOKEN} failed")
    assert PASSWORD not in scrubbed and TOKEN not in scrubbed and "***" in scrubbed


def test_client_retries_are_bounded() -> None:
    settings = resolve(None, env={"MLFLOW_TRACKING_URI": "http://h:1"})
    assert settings is not None
    assert settings.client_environment()["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert int(settings.client_environment()["MLFLOW_HTTP_REQUEST_TIMEOUT"]) == 10


def _lock(**changes: Any) -> dict[str, Any]:
    stages: dict[str, Any] = {s: {"cmd": f"pipeline {s}", "outs": [{"path": f"{s}.out", "md5": "0" * 32}]}
                              for s in TRACKED_STAGES}
    stages["gate"] = {"cmd": "pipeline gate metrics"}
    stages.update(changes)
    return stages


def test_run_key_follows_the_tracked_stages_only() -> None:
    key = run_key(_lock())
    assert key == run_key(_lock())
    # The metric gate's record is not part of what a run describes: its re-run is not a new run.
    assert key == run_key(_lock(gate={"cmd": "pipeline gate metrics", "outs": [{"md5": "1" * 32}]}))
    assert key != run_key(_lock(train={"cmd": "pipeline train", "outs": [{"path": "m", "md5": "1" * 32}]}))
    with pytest.raises(ConfigError, match=r"no record of stage\(s\) \['evaluate'\]"):
        run_key({s: {} for s in TRACKED_STAGES if s != "evaluate"})


def test_metrics_are_flattened_to_mlflow_keys() -> None:
    metrics = {"accuracy": 0.97, "task": "multiclass", "data": {"classes": ["a"]},
               "per_class": {"Adélie (ok?)": {"recall": 1.0, "support": 30}}, "flag": True}
    assert numeric_metrics(metrics) == {
        "accuracy": 0.97, "per_class.Adélie _ok__.recall": 1.0, "per_class.Adélie _ok__.support": 30.0,
    }


def _settings(required: bool) -> Any:
    env = {"MLFLOW_TRACKING_URI": f"http://bot:{PASSWORD}@127.0.0.1:9", "MLFLOW_TRACKING_TOKEN": TOKEN,
           "PIPELINE_TRACKING_REQUIRED": str(required).lower()}
    return resolve(None, env=env)


def _fail() -> None:
    raise ConnectionError(f"HTTPConnectionPool: Max retries exceeded with url {PASSWORD} token {TOKEN}\nline 2")


def test_guard_warns_in_one_redacted_line_when_not_required(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pipeline.tracking"):
        assert guarded(_settings(required=False), "logging the run", _fail) is None
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message and PASSWORD not in message and TOKEN not in message
    assert message.startswith("tracking server http://127.0.0.1:9: logging the run failed (ConnectionError")
    assert "tracking.required: false" in message


def test_guard_raises_an_external_error_when_required() -> None:
    with pytest.raises(ExternalError) as caught:
        guarded(_settings(required=True), "logging the run", _fail)
    text = str(caught.value)
    assert caught.value.exit_code == 4 and "\n" not in text
    assert PASSWORD not in text and TOKEN not in text and "set tracking.required: false" in text


def test_guard_lets_our_own_errors_through() -> None:
    def bad_config() -> None:
        raise ConfigError("dvc.lock: stale")

    with pytest.raises(ConfigError, match="stale"):
        guarded(_settings(required=False), "logging the run", bad_config)


def test_report_section_compares_with_production() -> None:
    text = tracking_md("http://m/#/experiments/1/runs/abc", {"accuracy": 0.99, "macro_f1": 0.98},
                       {"accuracy": 0.97}, "3", ["accuracy", "macro_f1"])
    assert "Run: [http://m/#/experiments/1/runs/abc](http://m/#/experiments/1/runs/abc)" in text
    assert "| `accuracy` | 0.9700 | 0.9900 | +0.0200 |" in text
    assert "| `macro_f1` | n/a | 0.9800 | n/a |" in text
    assert "production (version 3)" in text
    none_yet = tracking_md(None, {}, None, None, ["accuracy"])
    assert "not logged yet" in none_yet and "No model version has the alias `production`" in none_yet
    report = compose(data_md=None, metrics_md=None, diff=[], baseline_label="main", has_baseline_params=False,
                     plots=[], tracking_md=text)
    assert "### MLflow" in report


def test_track_log_says_tracking_is_off_without_a_uri(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipeline.cli import main
    from tests.conftest import REPO

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert main(["-C", str(REPO), "track", "log"]) == 0
    assert capsys.readouterr().out.startswith("tracking: off (set MLFLOW_TRACKING_URI")


def test_a_missing_mlflow_is_a_tracking_warning_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import sys

    from pipeline.deploy.record import DeployRecord
    from pipeline.tracking import doors
    from tests.conftest import REPO

    monkeypatch.setitem(sys.modules, "mlflow", None)  # `import mlflow` now raises ImportError
    record = DeployRecord("deploy", "demo-staging", "local", outcome="deployed")
    with caplog.at_level(logging.WARNING, logger="pipeline.tracking"):
        lines = doors.after_deploy(_settings(required=False), REPO, record, "staging")
    assert lines == ["tracking: skipped registering the deployed model as 'staging' (see the warning above)"]
    assert "mlflow is not installed" in caplog.records[0].getMessage()
