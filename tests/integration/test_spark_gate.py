"""The data gate on Spark (real pyspark, local[2], one JVM per test session): the same suites give the same
verdict, expectation by expectation, as the pandas engine, on the bad-input corpus and on the breakages the fast
path is tested with; the same reports come out of `pipeline validate`; bad sources fail in one line."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline import expectations
from pipeline.cli import main
from pipeline.errors import DataError
from pipeline.expectations import Batch, SparkBatch, run_checkpoint
from pipeline.gates import data as data_gate
from pipeline.spark_engine import read_parquet
from tests.integration.test_bad_inputs import CORPUS, point_source_at
from tests.integration.test_expectations import BREAKAGES, DATA, DRIFT, penguins

pytestmark = pytest.mark.integration

# The corpus files that get past `prepare` and must be stopped by the data gate (tests/integration/test_bad_inputs.py).
AT_THE_GATE = ["extra_column.csv", "all_null_column.csv", "out_of_range.csv", "unseen_category.csv",
               "duplicated_rows.csv"]
# The fast path's breakages (tests/integration/test_expectations.py) the corpus does not already cover.
MORE = ["clean", "nulls_within_mostly", "nulls_beyond_mostly", "negative_zero_duplicates", "int_column_with_nulls",
        "too_many_rows"]


def _case(name: str) -> pd.DataFrame:
    if name.endswith(".csv"):
        return pd.read_csv(CORPUS / name, na_values=["", "NA", "NaN"])
    return BREAKAGES[name](penguins())


def verdicts(results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["batch"], r["expectation"], r["column"], r["success"]) for r in results]


def findings(results: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """The gate's findings; for duplicated rows without the example rows, whose choice is the engine's."""
    return [(f.rule, f.where, f.message.split(", e.g.")[0] if f.rule == "expect_compound_columns_to_be_unique"
             else f.message) for f in data_gate.evaluate(results).findings]


def both_engines(spark: Any, frame: pd.DataFrame, tmp_path: Path, suites: list[tuple[str, Path]],
                 spark_detail_rows: int | None = None, spark_docs: Path | None = None
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The same parquet file through the pandas engine (the validate stage's way, GX on every expectation) and
    the Spark engine (with its column-facts path above `spark_detail_rows` rows, when given)."""
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    on_pandas = run_checkpoint([Batch.from_parquet(n, [path], s) for n, s in suites], None, max_examples=3)
    with pytest.MonkeyPatch.context() as patch:
        if spark_detail_rows is not None:
            patch.setattr(expectations, "DETAIL_ROW_LIMIT", spark_detail_rows)
        on_spark = run_checkpoint([SparkBatch(n, read_parquet(spark, [str(path)]), s) for n, s in suites],
                                  spark_docs, 3)
    return on_pandas, on_spark


@pytest.mark.parametrize("case", AT_THE_GATE + MORE)
def test_spark_gives_the_pandas_verdict_per_expectation(spark: Any, tmp_path: Path, case: str) -> None:
    # Spark on its column-facts path, as on a table of millions of rows, against pandas with GX on everything.
    frame = _case(case)
    on_pandas, on_spark = both_engines(spark, frame, tmp_path, [("data", DATA)], spark_detail_rows=10)
    assert verdicts(on_spark) == verdicts(on_pandas)
    # Proofs only ever pass: every failure comes from GX's Spark engine, with GX's details.
    assert all(r["evaluated_by"] == "great_expectations" for r in on_spark if not r["success"])
    assert not any(r["error"] for r in on_spark), [r["error"] for r in on_spark if r["error"]]
    # The same one-line findings: what failed, where and what was observed, in the suite's own type names.
    assert findings(on_spark) == findings(on_pandas)
    for result in on_spark:
        if result["expectation"] == "expect_compound_columns_to_be_unique" and not result["success"]:
            # Which duplicates GX lists depends on the engine's row order; each must really be duplicated.
            rows = [tuple(row.values()) for row in result["unexpected_values"]]
            counts = frame.astype(object).where(frame.notna(), None).value_counts(dropna=False)
            assert rows and all(counts[row] > 1 for row in rows)
    if case == "clean":
        assert sum(r["evaluated_by"] == "column facts" for r in on_spark) >= 20  # the fast path skips GX work
    # The breakages are real: all fail but the two within the contract.
    assert all(r["success"] for r in on_pandas) == (case in {"clean", "nulls_within_mostly"})


@pytest.mark.parametrize("case", ["clean", "drifted"])
def test_spark_drift_and_full_gx_details_match_pandas(spark: Any, tmp_path: Path, case: str) -> None:
    """Under DETAIL_ROW_LIMIT everything goes to GX on both engines: the KL-divergence suite (the data suite's
    GX-only verdicts are checked below, through `pipeline validate`)."""
    on_pandas, on_spark = both_engines(spark, _case(case), tmp_path, [("train", DRIFT)])
    assert verdicts(on_spark) == verdicts(on_pandas)
    assert all(r["evaluated_by"] == "great_expectations" for r in on_spark)
    kl = [(p["observed"], s["observed"]) for p, s in zip(on_pandas, on_spark, strict=True)
          if p["expectation"] == "expect_column_kl_divergence_to_be_less_than"]
    assert len(kl) == 6 and all(s == pytest.approx(p, rel=1e-6) for p, s in kl)
    assert all(r["success"] for r in on_spark) == (case == "clean")


def _hostile_suite(tmp_path: Path, columns: list[str]) -> Path:
    a, b, c = columns
    suite = {"name": "hostile", "expectations": [
        {"type": "expect_table_columns_to_match_ordered_list", "kwargs": {"column_list": columns}},
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": a, "type_": "float64"}},
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": b, "type_": "str"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": a}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": a, "min_value": 0, "max_value": 10}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": b, "value_set": ["é", "日本"]}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": c, "min_value": 0, "max_value": 5}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": columns}},
    ]}
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(suite, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("fast", [False, True])
def test_column_names_we_did_not_pick(spark: Any, tmp_path: Path, fast: bool) -> None:
    columns = ["bill length (mm)", "île d'origine, \"quoted\"", "[0] $x:y-z"]
    frame = pd.DataFrame({columns[0]: np.linspace(0, 9, 40), columns[1]: ["é", "日本"] * 19 + ["Ω", "é"],
                          columns[2]: np.arange(40) % 5})
    docs = tmp_path / "docs"
    on_pandas, on_spark = both_engines(spark, frame, tmp_path, [("data", _hostile_suite(tmp_path, columns))],
                                       spark_detail_rows=10 if fast else None, spark_docs=docs)
    # Data Docs from the Spark engine's validation results, as from pandas'.
    assert (docs / "index.html").is_file() and list((docs / "validations").rglob("*.html"))
    assert verdicts(on_spark) == verdicts(on_pandas)
    [failed] = [r for r in on_spark if not r["success"]]
    assert (failed["column"], failed["unexpected_values"]) == (columns[1], ["Ω"])
    assert failed["examples"] == [{columns[0]: pytest.approx(9 * 38 / 39), columns[1]: "Ω", columns[2]: 3}]


@pytest.mark.parametrize("name", ["bill.length", "n`tick"])
def test_a_column_spark_cannot_address_is_one_clear_error(spark: Any, tmp_path: Path, name: str) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], name: ["x", "y"], "b": [1, 2]})
    with pytest.raises(DataError) as err:
        both_engines(spark, frame, tmp_path, [("data", _hostile_suite(tmp_path, ["a", name, "b"]))])
    assert str(err.value) == (f"data data: column {name!r} cannot be checked by GX's Spark engine ('.' and '`' in "
                              "a name are Spark syntax); rename it in the source, or use data.engine: pandas")


# --- `pipeline validate` with data.engine: spark, in process (so it reuses the session's JVM) ---------------

REPORTS = ["reports/data_gate.json", "reports/data_gate.md"]


def _set_params(root: Path, **spark: Any) -> None:
    """data.engine: spark, with data.spark's keys from `spark`."""
    tree = yaml.safe_load((root / "params.yaml").read_text())
    tree["data"]["engine"] = "spark"
    tree["data"]["spark"] = {"master": "local[2]", **spark}
    (root / "params.yaml").write_text(yaml.safe_dump(tree, sort_keys=False))


def _cli(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["-C", str(root), *args])
    return code, capsys.readouterr().err


def _digests(root: Path) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in REPORTS}


def test_validate_on_spark_writes_the_pandas_reports(
    spark: Any, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    point_source_at(project, CORPUS / "out_of_range.csv")
    assert _cli(project, capsys, "ingest")[0] == 0 and _cli(project, capsys, "prepare")[0] == 0
    code, pandas_err = _cli(project, capsys, "validate", "--no-docs")
    assert code == 1
    on_pandas = {p: (project / p).read_text() for p in REPORTS}
    _set_params(project)
    code, spark_err = _cli(project, capsys, "validate", "--no-docs")
    assert code == 1, spark_err
    # One line, the same line: the raw file, the column, the problem.
    assert spark_err == pandas_err and len(spark_err.strip().splitlines()) == 1
    assert "data/raw/penguins.csv" in spark_err and "column 'flipper_length_mm'" in spark_err
    assert (project / "reports/data_gate.md").read_text() == on_pandas["reports/data_gate.md"]
    spark_json, pandas_json = (json.loads(t) for t in ((project / REPORTS[0]).read_text(), on_pandas[REPORTS[0]]))
    assert verdicts(spark_json["results"]) == verdicts(pandas_json["results"])
    assert spark_json["findings"] == pandas_json["findings"]


def test_validate_reads_a_file_uri_source(spark: Any, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """data.spark.source: one dataset by URI, checked against the data and the drift suites."""
    _set_params(project, source=(project / "data/prepared/train.parquet").as_uri())
    code, err = _cli(project, capsys, "validate", "--no-docs")
    assert code == 0, err
    report = json.loads((project / "reports/data_gate.json").read_text())
    assert report["passed"] and {r["batch"] for r in report["results"]} == {"data"}
    assert {r["suite"] for r in report["results"]} == {"data.json", "drift.json"}
    assert len(report["results"]) == 27 + 6


@pytest.mark.parametrize(("source", "code", "expected"), [
    ("s3a://lake/penguins/", 3, ["s3a://lake/penguins/: Spark has no filesystem for s3a://", "hadoop-aws",
                                 "spark.jars"]),
    ("{root}/data/prepared/nowhere.parquet", 3, ["nowhere.parquet: not found; fix data.spark.source"]),
    ("{root}/params.yaml", 3, ["params.yaml: Spark cannot read it as parquet"]),
])
def test_an_unreadable_source_is_one_line_and_keeps_the_last_report(
    spark: Any, project: Path, capsys: pytest.CaptureFixture[str], source: str, code: int, expected: list[str]
) -> None:
    before = _digests(project)
    _set_params(project, source=source.format(root=project))
    got, err = _cli(project, capsys, "validate", "--no-docs")
    assert got == code
    [line] = err.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in err
    for fragment in expected:
        assert fragment in line
    assert _digests(project) == before



def test_a_nullable_int64_column_is_int64_on_spark_only(spark: Any, tmp_path: Path) -> None:
    """The one documented difference (README, "The data gate on Spark"): pandas reads a parquet int64 column with
    nulls as float64, Spark keeps it int64. The not-null expectation catches the nulls on both."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"year": pa.array([2007, None, 2009] * 10, type=pa.int64())}), path)
    suite = tmp_path / "ints.json"
    suite.write_text(json.dumps({"name": "ints", "expectations": [
        {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "year", "type_": "int64"}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "year"}}]}))
    on_pandas = run_checkpoint([Batch.from_parquet("data", [path], suite)], None, 3)
    on_spark = run_checkpoint([SparkBatch("data", read_parquet(spark, [str(path)]), suite)], None, 3)
    assert [r["success"] for r in on_pandas] == [False, False]
    assert [r["success"] for r in on_spark] == [True, False]
    assert on_spark[0]["observed"] == "int64" and on_pandas[0]["observed"] == "float64"


def test_credentials_reach_the_live_hadoop_configuration_only(spark: Any) -> None:
    """What S3A reads on the driver and ships to executors, and not the Spark conf (spark-submit's command line,
    the Spark UI's environment page). The S3 round trip itself needs the connector jars (README)."""
    from pipeline.params import SparkParams
    from pipeline.spark_engine import SparkSettings, session

    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_ENDPOINT_URL": "http://127.0.0.1:5999"}
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    try:
        # One JVM per process: the second call reuses it and sets the credentials on its Hadoop configuration.
        assert session(SparkSettings.from_params(SparkParams(), env)).sparkContext is spark.sparkContext
        assert hadoop.get("fs.s3a.secret.key") == secret and hadoop.get("fs.s3a.endpoint") == env["AWS_ENDPOINT_URL"]
        assert hadoop.get("fs.s3a.path.style.access") == "true"
        assert not any(secret in value for _, value in spark.sparkContext.getConf().getAll())
    finally:
        for key in ("fs.s3a.access.key", "fs.s3a.secret.key", "fs.s3a.endpoint", "fs.s3a.path.style.access",
                    "fs.s3a.connection.ssl.enabled", "fs.s3a.aws.credentials.provider"):
            hadoop.unset(key)
