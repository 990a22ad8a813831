from __future__ import annotations

from pathlib import Path

import pytest

from model_server.settings import load_settings
from pipeline.errors import ConfigError


def test_defaults_bind_all_interfaces_on_port_8000() -> None:
    s = load_settings({})
    assert (s.host, s.port, s.web_concurrency) == ("0.0.0.0", 8000, 1)
    assert (s.model_path, s.meta_path) == (Path("models/model.onnx"), Path("models/serving.json"))


def test_platform_variables_are_read() -> None:
    s = load_settings({"PORT": "5123", "WEB_CONCURRENCY": "2", "MAX_BODY_BYTES": "2048", "UNRELATED": "x"})
    assert (s.port, s.web_concurrency, s.max_body_bytes) == (5123, 2, 2048)


def test_every_bad_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"PORT": "70000", "WEB_CONCURRENCY": "0", "GRACEFUL_TIMEOUT": "45", "LOG_LEVEL": "loud"})
    message = str(err.value)
    assert "\n" not in message
    for part in ("PORT must be <= 65535", "WEB_CONCURRENCY must be >= 1", "GRACEFUL_TIMEOUT must be <= 30",
                 "LOG_LEVEL must be one of"):
        assert part in message


def test_non_numeric_port_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="PORT must be a number, got 'http'"):
        load_settings({"PORT": "http"})


def test_secret_never_in_repr_or_str() -> None:
    s = load_settings({"METRICS_TOKEN": "hunter2-very-secret"})
    assert "hunter2" not in repr(s) and "hunter2" not in str(s)
    assert s.metrics_token is not None and s.metrics_token.get_secret_value() == "hunter2-very-secret"


def test_relative_paths_are_anchored(tmp_path: Path) -> None:
    s = load_settings({"MODEL_DIR": "m", "CONTRACT_PATH": "/abs/suite.json"}).resolved(tmp_path)
    assert s.model_dir == tmp_path / "m"
    assert s.contract_path == Path("/abs/suite.json")


def test_drift_settings_are_read_and_bounded() -> None:
    s = load_settings({"DRIFT": "false", "DRIFT_WINDOW": "500", "DRIFT_MIN_RECORDS": "50",
                       "HEROKU_RELEASE_VERSION": "v42"})
    assert (s.drift, s.drift_window, s.drift_min_records, s.heroku_release_version) == (False, 500, 50, "v42")
    assert load_settings({}).drift is True
    with pytest.raises(ConfigError) as err:
        load_settings({"DRIFT": "perhaps", "DRIFT_WINDOW": "100000000", "DRIFT_REFRESH_SECONDS": "-1"})
    message = str(err.value)
    assert "DRIFT must be true or false, got 'perhaps'" in message
    assert "DRIFT_WINDOW must be <= 100000" in message and "DRIFT_REFRESH_SECONDS must be >= 0" in message
    assert "\n" not in message


def test_the_minimum_must_fit_in_the_window() -> None:
    with pytest.raises(ConfigError, match=r"DRIFT_MIN_RECORDS must be <= DRIFT_WINDOW \(100\), got '500'"):
        load_settings({"DRIFT_WINDOW": "100", "DRIFT_MIN_RECORDS": "500"})
