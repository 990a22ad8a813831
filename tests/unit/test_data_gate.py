from __future__ import annotations

from typing import Any

from pipeline.gates.data import evaluate, to_markdown


def result(
    expectation: str, success: bool, column: str | None = None, batch: str = "data", **extra: Any
) -> dict[str, Any]:
    base = {
        "batch": batch,
        "suite": "data.json",
        "expectation": expectation,
        "column": column,
        "kwargs": extra.pop("kwargs", {"column": column} if column else {}),
        "success": success,
        "observed": None,
        "unexpected_count": None,
        "unexpected_percent": None,
        "unexpected_values": [],
        "details": None,
        "error": None,
        "examples": [],
    }
    base.update(extra)
    return base


def test_all_passing_results_pass() -> None:
    verdict = evaluate([result("expect_column_values_to_not_be_null", True, "sex")])
    assert verdict.passed and verdict.findings == ()


def test_no_results_is_not_a_pass() -> None:
    assert not evaluate([]).passed


def test_out_of_range_names_column_values_and_range() -> None:
    res = result(
        "expect_column_values_to_be_between", False, "flipper_length_mm",
        kwargs={"column": "flipper_length_mm", "min_value": 160, "max_value": 240},
        unexpected_count=7, unexpected_percent=2.03, unexpected_values=[2100.0, 2100.0],
        examples=[{"species": "Adelie", "flipper_length_mm": 2100.0}],
    )
    verdict = evaluate([res])
    [finding] = verdict.findings
    assert finding.where == "column 'flipper_length_mm'"
    assert finding.message == "values out of range: 7 values (2.0%), e.g. [2100.0, 2100.0]; range 160..240"
    assert "column 'flipper_length_mm': values out of range" in verdict.headline()


def test_table_columns_report_missing_and_unexpected() -> None:
    res = result(
        "expect_table_columns_to_match_ordered_list", False,
        kwargs={"column_list": ["a", "b", "c"]}, observed=["a", "c", "ring_id"],
    )
    [finding] = evaluate([res]).findings
    assert finding.where == "table"
    assert "missing ['b'], unexpected ['ring_id']" in finding.message


def test_drift_finding_names_the_split() -> None:
    res = result(
        "expect_column_kl_divergence_to_be_less_than", False, "island", batch="test",
        kwargs={"column": "island", "threshold": 0.25}, observed=0.61,
    )
    [finding] = evaluate([res]).findings
    assert finding.where == "test split, column 'island'"
    assert "KL divergence 0.610 >= 0.25" in finding.message


def test_headline_is_short_however_many_failures() -> None:
    results = [result("expect_column_values_to_not_be_null", False, f"c{i}", unexpected_count=1) for i in range(40)]
    headline = evaluate(results).headline()
    assert "(+37 more in the report)" in headline
    assert len(headline) < 400


def test_markdown_has_table_and_example_rows() -> None:
    res = result(
        "expect_column_values_to_be_in_set", False, "island",
        kwargs={"column": "island", "value_set": ["Biscoe"]}, unexpected_count=1,
        unexpected_values=["Atlantis"], examples=[{"island": "Atlantis", "sex": None}],
    )
    md = to_markdown(evaluate([res]))
    assert "| `column 'island'` | `expect_column_values_to_be_in_set` |" in md
    assert "| Atlantis | None |" in md
