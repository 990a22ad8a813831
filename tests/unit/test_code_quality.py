"""The static checks are part of the suite, so `make test` (and CI) enforce them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "command",
    [["ruff", "check", "pipeline", "model_server", "heroku_local", "tests", "benchmarks"], ["mypy"], ["lint-imports"]],
    ids=["ruff", "mypy", "import-contracts"],
)
def test_static_check_passes(command: list[str]) -> None:
    result = subprocess.run([str(BIN / command[0]), *command[1:]], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
