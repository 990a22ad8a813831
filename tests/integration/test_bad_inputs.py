"""The bad-input corpus: each case ends in one line naming file, column and problem, a non-zero
exit, no traceback, and the last good model and reports exactly as they were."""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from tests.conftest import run_cli, run_cli_measured
from tests.unit.test_fuzz_raw_data import mutated_csv

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
# What "nothing lost" means: the model, its metadata, the metrics and the rendered report.
PREPARED = ["data/prepared/train.parquet", "data/prepared/test.parquet"]
PRESERVED = ["models/model.skops", "models/model.json", "reports/metrics.json", "reports/report.md",
             "reports/plots/confusion.png"]

# Bounds per command of a fuzz case. On the good file the heaviest command (validate, GX) peaked at 339 MiB
# and 10 s (measured here, 2026-12-06); a case over these bounds is a hostile input costing what it should not.
CASE_MIB = 1536
CASE_SECONDS = 300

CASES = [
    # file, failing stage, exit code, substrings the one-line error must contain
    ("missing_column.csv", "prepare", 3, ["data/raw/penguins.csv:1:", "missing columns ['body_mass_g']"]),
    ("extra_column.csv", "validate", 1, ["data/raw/penguins.csv", "columns differ", "unexpected ['ring_id']"]),
    ("wrong_dtype.csv", "prepare", 3, ["data/raw/penguins.csv:9:", "'bill_length_mm' expects float64, got 'long'"]),
    ("all_null_column.csv", "validate", 1, ["data/raw/penguins.csv", "column 'body_mass_g'", "missing values"]),
    ("out_of_range.csv", "validate", 1, ["data/raw/penguins.csv", "column 'flipper_length_mm'", "out of range"]),
    ("unseen_category.csv", "validate", 1, ["data/raw/penguins.csv", "column 'island'", "'Atlantis'"]),
    ("empty.csv", "prepare", 3, ["data/raw/penguins.csv", "the file is empty"]),
    ("header_only.csv", "prepare", 3, ["data/raw/penguins.csv", "header but no data rows"]),
    ("non_utf8.csv", "prepare", 3, ["data/raw/penguins.csv:12:", "not valid UTF-8"]),
    ("truncated_last_line.csv", "prepare", 3, ["data/raw/penguins.csv", "line 346 has 4 fields, expected 8"]),
    ("duplicated_rows.csv", "validate", 1, ["data/raw/penguins.csv", "duplicated rows"]),
    ("rows_100x.csv", "validate", 1, ["data/raw/penguins.csv", "row count out of bounds: 34400 rows"]),
    ("wrong_delimiter.csv", "prepare", 3, ["data/raw/penguins.csv:1:", "is data.delimiter ',' right?"]),
    ("unterminated_quote.csv", "prepare", 3, ["data/raw/penguins.csv:12: a quote opened on this line is never closed"]),
    ("header_trailing_space.csv", "prepare", 3, ["data/raw/penguins.csv:1: missing columns ['sex']",
                                                 "the header has 'sex '", "invisible characters"]),
    ("double_bom.csv", "prepare", 3, ["data/raw/penguins.csv:1: missing columns ['species']",
                                      "the header has '\\ufeffspecies'"]),
    ("huge_year.csv", "prepare", 3, ["data/raw/penguins.csv:5: column 'year' expects whole numbers, got '1e20'"]),
    ("single_class.csv", "prepare", 3, ["data/raw/penguins.csv: every labelled row has 'species' = 'Adelie'",
                                        "at least two classes"]),
    ("huge_field.csv", "prepare", 3, ["data/raw/penguins.csv:12:", "longer than 131072 characters",
                                      "unterminated quote"]),
]


def fingerprint(root: Path) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in PRESERVED}


def point_source_at(root: Path, source: Path) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["source"] = str(source)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def huge_field(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 200 KB field on line 12: over the csv module's 128 KiB field limit."""
    good = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text(encoding="utf-8")
    header, *rows = good.splitlines()
    path = tmp_path_factory.mktemp("corpus") / "huge_field.csv"
    path.write_text("\n".join([header, *rows[:10], "Adelie," + "x" * 200_000 + ",39.1,18.7,181,3750,male,2007"])
                    + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def rows_100x(tmp_path_factory: pytest.TempPathFactory) -> Path:
    good = (resources.files("palmerpenguins") / "data" / "penguins.csv").read_text(encoding="utf-8")
    header, *rows = good.splitlines()
    path = tmp_path_factory.mktemp("corpus") / "rows_100x.csv"
    path.write_text("\n".join([header, *(rows * 100)]) + "\n", encoding="utf-8")
    return path


def assert_one_clean_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(("name", "stage", "code", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_raw_input_fails_cleanly_and_keeps_last_good_outputs(
    project: Path, rows_100x: Path, huge_field: Path, name: str, stage: str, code: int, expected: list[str]
) -> None:
    before = fingerprint(project)
    source = {"rows_100x.csv": rows_100x, "huge_field.csv": huge_field}.get(name, CORPUS / name)
    point_source_at(project, source)
    assert run_cli(project, "ingest").returncode == 0
    result = run_cli(project, "prepare")
    if stage == "validate":
        assert result.returncode == 0, result.stderr
        result = run_cli(project, "validate", "--no-docs")
    assert result.returncode == code, result.stderr
    line = assert_one_clean_line(result.stderr)
    for fragment in expected:
        assert fragment in line
    assert fingerprint(project) == before


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"train": {"model": "random_forest", "seed": 1, "random_forest": {"n_estimators": 0}}},
         "params.yaml: train.random_forest.n_estimators must be >= 1, got 0"),
        ({"prepare": {"seed": 42}}, "params.yaml: prepare.test_size is missing"),
        ({"train": {"model": "random_forest", "seed": -1}}, "params.yaml: train.seed must be >= 0, got -1"),
        ({"prepare": {"test_size": 0.2, "seed": -1}}, "params.yaml: prepare.seed must be >= 0, got -1"),
        ({"data": {"source": "palmerpenguins", "raw": "data/raw/penguins.csv", "target": "weight",
                   "features": ["island", "sex"]}},
         "params.yaml: data.target/data.features name ['weight'], which"),
    ],
    ids=["bad_value", "missing_key", "negative_train_seed", "negative_prepare_seed", "target_not_a_column"],
)
def test_bad_params_fail_before_any_work(project: Path, override: dict, expected: str) -> None:
    before = fingerprint(project)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params.update(override)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("train", "prepare"):
        result = run_cli(project, stage)
        assert result.returncode == 3
        assert expected in assert_one_clean_line(result.stderr)
    assert fingerprint(project) == before


def test_tampered_model_is_refused_by_evaluate(project: Path) -> None:
    model = project / "models" / "model.skops"
    model.write_bytes(model.read_bytes() + b"\0")
    result = run_cli(project, "evaluate")
    assert result.returncode == 3
    line = assert_one_clean_line(result.stderr)
    assert "models/model.skops" in line and "does not match" in line and "dvc checkout" in line


def test_cr_only_line_endings_are_read_like_lf(project: Path) -> None:
    """Old Mac line endings are valid input: the prepared splits are byte-identical to the LF file's."""
    before = {p: hashlib.sha256((project / p).read_bytes()).hexdigest() for p in PREPARED}
    point_source_at(project, CORPUS / "cr_only.csv")
    assert run_cli(project, "ingest").returncode == 0
    result = run_cli(project, "prepare")
    assert result.returncode == 0, result.stderr
    assert {p: hashlib.sha256((project / p).read_bytes()).hexdigest() for p in PREPARED} == before


def _single_class_split(project: Path) -> None:
    import pandas as pd

    train = project / "data" / "prepared" / "train.parquet"
    frame = pd.read_parquet(train)
    frame["species"] = "Adelie"
    frame.to_parquet(train)


def test_single_class_training_data_is_refused_before_the_model_is_replaced(project: Path) -> None:
    """Past prepare (a hand-edited split), train itself refuses one class: the last good pair stays."""
    before = fingerprint(project)
    _single_class_split(project)
    result = run_cli(project, "train")
    assert result.returncode == 3, result.stderr
    line = assert_one_clean_line(result.stderr)
    assert "data/prepared/train.parquet: every row has 'species' = 'Adelie'" in line
    assert "at least two classes" in line
    assert fingerprint(project) == before


def test_a_one_class_model_is_refused_by_export_not_aborted_in_onnxruntime(project: Path) -> None:
    """onnxruntime aborts the process (SIGABRT, no message) on a one-class graph: export must refuse it first."""
    import pandas as pd

    from model_server.contract import load_contract
    from pipeline import model as model_io
    from pipeline.params import load_params
    from pipeline.stages.train import build_estimator

    params = load_params(project / "params.yaml")
    frame = pd.read_parquet(project / "data" / "prepared" / "train.parquet")
    estimator = build_estimator(params, load_contract(project / params.gates.data.suite))
    estimator.fit(frame[list(params.data.features)], ["Adelie"] * len(frame))
    meta = json.loads((project / "models" / "model.json").read_text())
    model_io.save(estimator, {**meta, "classes": ["Adelie"]}, project / "models" / "model.skops",
                  project / "models" / "model.json")
    result = run_cli(project, "export")
    assert result.returncode == 3, result.stderr
    line = assert_one_clean_line(result.stderr)
    assert "models/model.skops: was trained on one class only (['Adelie'])" in line
    assert not (project / "models" / "model.onnx").exists() and not (project / "models" / "serving.json").exists()


def test_model_and_metadata_are_replaced_together_or_not_at_all(tmp_path: Path) -> None:
    from pipeline.io import replaced_together

    model, meta = tmp_path / "model.skops", tmp_path / "model.json"
    model.write_bytes(b"old model")
    meta.write_text("old meta")
    with pytest.raises(RuntimeError), replaced_together(model, meta) as (tmp_model, _tmp_meta):
        tmp_model.write_bytes(b"new model")
        raise RuntimeError("the metadata could not be computed")
    assert (model.read_bytes(), meta.read_text()) == (b"old model", "old meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.skops"]
    with replaced_together(model, meta) as (tmp_model, tmp_meta):
        tmp_model.write_bytes(b"new model")
        tmp_meta.write_text("new meta")
    assert (model.read_bytes(), meta.read_text()) == (b"new model", "new meta")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json", "model.skops"]


def _bomb(levels: int = 9, key: str = "features") -> str:
    """A billion-laughs document: 9 levels of 9 aliases each expand to 9**9 (387 million) strings."""
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _params_text() -> str:
    return (Path(__file__).resolve().parents[2] / "params.yaml").read_text(encoding="utf-8")


HOSTILE_PARAMS = [
    # (params.yaml text, fragment of the one-line error)
    (_bomb() + _params_text(), "params.yaml:6: expands to more than 100000 values"),
    (_params_text().replace("  features: [island", "  features: *a8\n  old_features: [island").replace(
        "data:\n", _bomb() + "data:\n", 1), "expands to more than 100000 values"),
    (_params_text().replace("  target: species\n", "  target: species\n  target: island\n"),
     "params.yaml:7: duplicate key 'target' (first at line 6)"),
    ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", "params.yaml:1: nested more than 64 levels deep"),
    ("a: &a [*a]\n", "a recursive alias"),
    ("x" * (2 << 20), "over the 1048576-byte limit"),
]


@pytest.mark.timeout(90, func_only=True)
@pytest.mark.parametrize(("text", "expected"), HOSTILE_PARAMS,
                         ids=["alias_bomb", "alias_bomb_under_a_known_key", "duplicate_key", "deep_nesting",
                              "recursive_alias", "oversized"])
def test_hostile_params_yaml_is_refused_fast_by_every_command(project: Path, text: str, expected: str) -> None:
    before = fingerprint(project)
    (project / "params.yaml").write_text(text, encoding="utf-8")
    for command in ("check", "prepare", "train"):
        result = run_cli(project, command)
        assert result.returncode == 3, result.stderr
        assert expected in assert_one_clean_line(result.stderr)
    assert fingerprint(project) == before


@pytest.mark.timeout(90, func_only=True)
@pytest.mark.parametrize(
    ("policy", "expected"),
    [(_bomb(), "scan-policy.yaml:6: expands to more than 100000 values"),
     ("threshold: HIGH\nthreshold: LOW\n", "scan-policy.yaml:2: duplicate key 'threshold' (first at line 1)")],
    ids=["alias_bomb", "duplicate_threshold"],
)
def test_hostile_scan_policy_is_refused_fast(project: Path, policy: str, expected: str) -> None:
    (project / "scan-policy.yaml").write_text(policy, encoding="utf-8")
    for args in (("check",), ("scan", "--allow-missing", "trivy")):
        result = run_cli(project, *args)
        assert result.returncode == 3, result.stderr
        assert expected in assert_one_clean_line(result.stderr)


@settings(max_examples=4, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=mutated_csv())
@pytest.mark.timeout(900, func_only=True)
def test_fuzzed_raw_data_through_the_cli_keeps_the_invariants(project: Path, data: bytes) -> None:
    """The unit-tier fuzz (tests/unit/test_fuzz_raw_data.py) through the real commands, a few examples:
    exit 0, 1 or 3, one line and no traceback on failure, and the last good model and reports untouched."""
    source = project / "fuzzed.csv"
    source.write_bytes(data)
    point_source_at(project, source)
    before = fingerprint(project)
    for args in (("ingest",), ("prepare",), ("validate", "--no-docs"), ("train",)):
        result = run_cli_measured(project, *args, timeout=CASE_SECONDS)
        assert result.returncode in {0, 1, 3}, result.stderr
        assert result.peak_mib < CASE_MIB, f"{args[0]} peaked at {result.peak_mib:.0f} MiB on a fuzzed file"
        if result.returncode != 0:
            assert_one_clean_line(result.stderr)
            assert fingerprint(project) == before
            return
