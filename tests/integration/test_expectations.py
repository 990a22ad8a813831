"""Real GX checkpoints: the verdict-only fast path gives the same verdicts and details as the full one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline import expectations
from pipeline.expectations import Batch, run_checkpoint

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broken_frame() -> pd.DataFrame:
    import palmerpenguins

    frame = palmerpenguins.load_penguins()
    frame.loc[[3, 40, 41], "island"] = "Atlantis"
    return frame


def test_fast_path_matches_full_detail(monkeypatch: pytest.MonkeyPatch, broken_frame: pd.DataFrame,
                                       tmp_path: Path) -> None:
    batches = [Batch("data", broken_frame, REPO / "gx/expectations/data.json")]
    full = run_checkpoint(batches, tmp_path / "docs", max_examples=3)
    monkeypatch.setattr(expectations, "DETAIL_ROW_LIMIT", 10)
    fast = run_checkpoint(batches, None, max_examples=3)

    def key(r: dict) -> tuple:
        return (r["expectation"], r["column"])

    assert {key(r): r["success"] for r in full} == {key(r): r["success"] for r in fast}
    [failed] = [r for r in fast if not r["success"]]
    assert (failed["expectation"], failed["column"]) == ("expect_column_values_to_be_in_set", "island")
    assert failed["unexpected_count"] == 3 and failed["unexpected_values"] == ["Atlantis"] * 3
    assert len(failed["examples"]) == 3 and failed["examples"][0]["island"] == "Atlantis"
    assert (tmp_path / "docs" / "index.html").is_file()


def test_malformed_suite_is_a_config_error(tmp_path: Path, broken_frame: pd.DataFrame) -> None:
    from pipeline.errors import ConfigError

    suite = tmp_path / "bad.json"
    suite.write_text('{"name": "x", "expectations": [{"type": "expect_column_values_to_be_sorted", "kwargs": {}}]}')
    with pytest.raises(ConfigError, match=r"bad\.json: GX rejected the suite"):
        run_checkpoint([Batch("data", broken_frame, suite)], None, 3)
