from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.params import load_params, parse_params

REPO = Path(__file__).resolve().parents[2]


def test_repo_params_load_into_frozen_typed_objects() -> None:
    params = load_params(REPO / "params.yaml")
    assert params.data.target == "species"
    assert 0 < params.prepare.test_size < 1
    with pytest.raises(Exception, match="frozen"):
        params.prepare.seed = 1  # type: ignore[misc]


def test_out_of_range_value_names_key_bound_and_value(make_params_dict) -> None:
    with pytest.raises(ConfigError) as err:
        parse_params(make_params_dict(**{"gates.metrics.min_accuracy": 1.7}))
    assert str(err.value) == "params.yaml: gates.metrics.min_accuracy must be <= 1.0, got 1.7"


def test_all_problems_are_reported_together_on_one_line(make_params_dict, delete) -> None:
    bad = make_params_dict(
        **{"train.random_forest.n_estimators": -3, "prepare.seed": delete, "train.model": "xgboost"}
    )
    with pytest.raises(ConfigError) as err:
        parse_params(bad)
    message = str(err.value)
    assert "\n" not in message
    assert "train.random_forest.n_estimators must be >= 1, got -3" in message
    assert "prepare.seed is missing" in message
    assert "train.model must be one of" in message and "'xgboost'" in message


def test_unknown_key_is_an_error_not_ignored(make_params_dict) -> None:
    with pytest.raises(ConfigError, match=r"gates\.metrics\.min_acuracy is not a known key"):
        parse_params(make_params_dict(**{"gates.metrics.min_acuracy": 0.9}))


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("data:\n  target: [species\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"^params\.yaml:\d+: not valid YAML"):
        load_params(path)


def test_non_mapping_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_params(path)


def test_missing_file_says_where_to_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="run from the project root"):
        load_params(tmp_path / "params.yaml")


def test_baseline_rev_null_is_no_comparison_and_empty_is_refused(make_params) -> None:
    import pytest

    from pipeline.errors import ConfigError

    assert make_params(**{"gates.metrics.baseline_rev": None}).gates.metrics.baseline_rev is None
    with pytest.raises(ConfigError) as err:
        make_params(**{"gates.metrics.baseline_rev": ""})
    assert str(err.value) == ("params.yaml: gates.metrics.baseline_rev is ''; give a git revision such as main, "
                              "or null for no baseline comparison")
