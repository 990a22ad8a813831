"""The bad-input corpus: each case ends in one line naming file, column and problem, a non-zero
exit, no traceback, and the last good model and reports exactly as they were."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad"
# What "nothing lost" means: the model, its metadata, the metrics and the rendered report.
PRESERVED = ["models/model.skops", "models/model.json", "reports/metrics.json", "reports/report.md",
             "reports/plots/confusion.png"]

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
]


def fingerprint(root: Path) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in PRESERVED}


def point_source_at(root: Path, source: Path) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["source"] = str(source)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


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
    project: Path, rows_100x: Path, name: str, stage: str, code: int, expected: list[str]
) -> None:
    before = fingerprint(project)
    source = rows_100x if name == "rows_100x.csv" else CORPUS / name
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
    ],
    ids=["bad_value", "missing_key"],
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
