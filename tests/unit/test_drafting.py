"""`pipeline init`'s draft of the data contract: what the file shows, with margins, and nothing it cannot know."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from model_server.contract import contract_from_suite
from pipeline.drafting import draft_contract
from pipeline.errors import DataError
from tests.datasets import hostile


def _kinds(suite: dict) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for e in suite["expectations"]:
        out.setdefault(e["type"], []).append(e["kwargs"])
    return out


def test_hostile_names_types_sets_and_ranges() -> None:
    ds = hostile()
    draft = draft_contract(ds.frame, ds.target)
    contract = contract_from_suite(draft.suite, "data.json")  # the project's own reader accepts it
    assert list(contract.names) == list(ds.frame.columns)
    assert draft.features == ds.features and draft.labels == ["no", "yes"]
    kinds = _kinds(draft.suite)
    types = {k["column"]: k["type_"] for k in kinds["expect_column_values_to_be_of_type"]}
    assert types["1st"] == "int64" and types["a b"] == "float64" and types["json"] == "str"
    sets = {k["column"]: k["value_set"] for k in kinds["expect_column_values_to_be_in_set"]}
    assert sets == {"json": ["blue", "green", "red"], "outcome class": ["no", "yes"]}
    for k in kinds["expect_column_values_to_be_between"]:
        values = ds.frame[k["column"]]
        assert k["min_value"] < values.min() and values.max() < k["max_value"]


def test_nulls_get_an_allowance_and_identifiers_are_left_out_of_the_features() -> None:
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(100)], "x": [np.nan if i % 10 == 0 else i for i in range(100)],
                          "y": ["a", "b"] * 50})
    draft = draft_contract(frame, "y")
    nulls = {k["column"]: k.get("mostly") for k in _kinds(draft.suite)["expect_column_values_to_not_be_null"]}
    assert nulls == {"id": None, "x": 0.85, "y": None}
    assert draft.features == ["x"]
    assert any("identifier" in note and "'id'" in note for note in draft.notes)


@pytest.mark.parametrize(("frame", "target", "problem"), [
    (pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "c", "target 'c' is not a column"),
    (pd.DataFrame({"a": [1, 2], "b": ["x", "x"]}), "b", "holds 1 class(es)"),
    (pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}), "b", "a regression target"),
    (pd.DataFrame({"a": [], "b": []}), "b", "no data rows"),
])
def test_a_table_that_cannot_be_a_classification_dataset_is_one_line(frame: pd.DataFrame, target: str,
                                                                     problem: str) -> None:
    with pytest.raises(DataError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        draft_contract(frame, target)


NAMES = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)


FLOATS = st.floats(-1e9, 1e9) | st.just(float("nan"))
FRAMES = st.integers(0, 60).flatmap(lambda rows: data_frames(
    [column("f", dtype=float, elements=FLOATS), column("n", dtype=int, elements=st.integers(-10**6, 10**6)),
     column("s", elements=st.sampled_from(["p", "q", "r"]))], index=st.just(pd.RangeIndex(rows))))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(FRAMES, NAMES)
def test_the_draft_holds_every_row_it_was_drafted_from(frame: pd.DataFrame, name: str) -> None:
    frame = frame.rename(columns={"f": f"{name} f"})
    try:
        draft = draft_contract(frame, "s")
    except DataError as exc:
        assert len(frame) == 0 or frame["s"].nunique() < 2, exc
        return
    contract_from_suite(draft.suite, "data.json")
    for k in _kinds(draft.suite)["expect_column_values_to_be_between"]:
        present = frame[k["column"]].dropna()
        assert (present >= k["min_value"]).all() and (present <= k["max_value"]).all(), k
    for k in _kinds(draft.suite)["expect_column_values_to_not_be_null"]:
        present = frame[k["column"]].notna().mean()
        assert present >= k.get("mostly", 1.0) or math.isclose(present, k.get("mostly", 1.0)), k
