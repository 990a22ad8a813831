"""Real GX checkpoints. The proof fast path must give exactly GX's verdicts, whatever is broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline import expectations
from pipeline.errors import ConfigError
from pipeline.expectations import Batch, run_checkpoint

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
DATA, DRIFT = REPO / "gx/expectations/data.json", REPO / "gx/expectations/drift.json"


def penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


def _set(col: str, rows: list[int], value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def f(df: pd.DataFrame) -> pd.DataFrame:
        df.loc[rows, col] = value
        return df
    return f


BREAKAGES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "clean": lambda df: df,
    "out_of_range": _set("flipper_length_mm", [3, 70], 2100.0),
    "unseen_category": _set("island", [3, 40, 41], "Atlantis"),
    "nulls_within_mostly": _set("bill_depth_mm", list(range(5, 12)), np.nan),
    "nulls_beyond_mostly": _set("bill_depth_mm", list(range(0, 60)), np.nan),
    "duplicated_rows": lambda df: pd.concat([df, df.head(5)], ignore_index=True),
    "negative_zero_duplicates": lambda df: pd.concat(
        [df.assign(bill_depth_mm=df.bill_depth_mm.where(df.index != 0, 0.0)),
         df.head(1).assign(bill_depth_mm=-0.0)], ignore_index=True),
    "extra_column": lambda df: df.assign(ring=np.arange(len(df))),
    "int_column_with_nulls": _set("year", [4], np.nan),
    "too_many_rows": lambda df: pd.concat([df] * 15, ignore_index=True),
    "drifted": lambda df: df.assign(body_mass_g=df.body_mass_g * 1.6),
}


@pytest.mark.parametrize("source", ["memory", "parquet"])
@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_fast_path_gives_gx_verdicts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, breakage: str, source: str
) -> None:
    frame = BREAKAGES[breakage](penguins())
    batches = [Batch.from_frame("data", frame, DATA), Batch.from_frame("train", frame, DRIFT)]
    full = run_checkpoint(batches, None, max_examples=3)
    if source == "parquet":  # the validate stage's way: files read in chunks and single columns
        frame.to_parquet(tmp_path / "data.parquet", index=False)
        batches = [Batch.from_parquet("data", [tmp_path / "data.parquet"], DATA),
                   Batch.from_parquet("train", [tmp_path / "data.parquet"], DRIFT)]
    monkeypatch.setattr(expectations, "DETAIL_ROW_LIMIT", 10)
    monkeypatch.setattr("pipeline.column_stats.CHUNK_ROWS", 100)  # several chunks even on small data
    if source == "parquet":
        monkeypatch.setattr(expectations, "GX_RUN_BYTES", 1)  # one GX run per column group
    fast = run_checkpoint(batches, None, max_examples=3)

    def verdicts(results: list[dict]) -> list[tuple]:
        return [(r["batch"], r["expectation"], r["column"], r["success"]) for r in results]

    assert verdicts(fast) == verdicts(full)
    assert all(r["evaluated_by"] == "great_expectations" for r in full)
    # Every failure comes from GX, with its details; proofs only ever pass.
    assert all(r["evaluated_by"] == "great_expectations" for r in fast if not r["success"])
    if breakage == "clean":
        proven = [r for r in fast if r["evaluated_by"] == "column facts"]
        assert len(proven) >= 25  # the fast path must actually skip work on clean data
    # The breakages are real: GX itself fails all but the two that stay within the contract.
    assert all(r["success"] for r in full) == (breakage in {"clean", "nulls_within_mostly"})


def test_fast_path_failure_has_gx_details(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(expectations, "DETAIL_ROW_LIMIT", 10)
    frame = BREAKAGES["unseen_category"](penguins())
    results = run_checkpoint([Batch.from_frame("data", frame, DATA)], tmp_path / "docs", max_examples=3)
    [failed] = [r for r in results if not r["success"]]
    assert (failed["expectation"], failed["column"]) == ("expect_column_values_to_be_in_set", "island")
    assert failed["unexpected_count"] == 3 and failed["unexpected_values"] == ["Atlantis"] * 3
    assert len(failed["examples"]) == 3 and failed["examples"][0]["island"] == "Atlantis"
    assert (tmp_path / "docs" / "index.html").is_file()


def test_unknown_expectation_type_is_a_config_error(tmp_path: Path) -> None:
    suite = tmp_path / "bad.json"
    suite.write_text('{"name": "x", "expectations": [{"type": "expect_column_values_to_be_sorted", "kwargs": {}}]}')
    with pytest.raises(ConfigError, match=r"bad\.json: GX rejected the suite"):
        run_checkpoint([Batch.from_frame("data", penguins(), suite)], None, 3)
