from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipeline import cli
from pipeline.commands.base import Context, Outcome
from pipeline.errors import ConfigError, ExternalError, GateFailed, UsageError


def _with_handler(monkeypatch: pytest.MonkeyPatch, handler) -> None:
    """Swap the `report` command's handler: exercises the real parser and the real error map."""
    real = cli.build_parser

    def build() -> argparse.ArgumentParser:
        parser = real()
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        sub.choices["report"].set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)


@pytest.mark.parametrize(
    ("exc", "code"),
    [(GateFailed("metrics gate failed: accuracy"), 1), (ConfigError("params.yaml: x"), 3),
     (ExternalError("Docker engine unreachable"), 4), (RuntimeError("boom"), 4)],
)
def test_errors_map_to_exit_codes_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], exc: Exception, code: int
) -> None:
    def handler(ctx: Context) -> Outcome:
        raise exc

    _with_handler(monkeypatch, handler)
    assert cli.main(["report"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])
    assert exit_info.value.code == 2


def test_gate_failure_annotates_and_writes_summary_in_actions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    def handler(ctx: Context) -> Outcome:
        raise GateFailed("data/raw/penguins.csv: data gate failed: column 'island'", "### ❌ Data gate")

    _with_handler(monkeypatch, handler)
    assert cli.main(["report"]) == 1
    err = capsys.readouterr().err
    assert "::error file=data/raw/penguins.csv::data/raw/penguins.csv: data gate failed" in err
    assert summary.read_text().startswith("### ❌ Data gate")


def test_verbose_shows_the_traceback_of_surprises(monkeypatch: pytest.MonkeyPatch) -> None:
    def handler(ctx: Context) -> Outcome:
        raise RuntimeError("boom")

    _with_handler(monkeypatch, handler)
    with pytest.raises(RuntimeError, match="boom"):
        cli.main(["-v", "report"])


def test_build_args_take_one_pair_per_line_so_a_multi_line_workflow_input_passes_through() -> None:
    from pipeline.commands.image import _pairs

    assert _pairs(["PYTHON_IMAGE=mirror.example/python:3.11\n\n  EXTRA=a=b  \n", "LAST="], "--build-arg") == {
        "PYTHON_IMAGE": "mirror.example/python:3.11", "EXTRA": "a=b", "LAST": ""}
    assert _pairs([""], "--build-arg") == {}  # an input left blank means no build arguments
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        _pairs(["GOOD=1\nNOEQUALS"], "--build-arg")
