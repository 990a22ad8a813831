"""`pipeline init` through the real CLI: drafts the contract and the data section from a user's CSV, keeps
params.yaml's comments, never replaces without --force, and refuses bad files in one line with nothing written."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from model_server.contract import load_contract
from tests import datasets
from tests.conftest import copy_project, run_cli

pytestmark = pytest.mark.integration


def _digests(root: Path) -> dict[str, str]:
    return {name: hashlib.sha256((root / name).read_bytes()).hexdigest()
            for name in ("params.yaml", "gx/expectations/data.json")}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_init_drafts_the_contract_and_points_params_at_the_csv(project: Path, tmp_path: Path) -> None:
    ds = datasets.wine()
    source = tmp_path / "exports" / "wine 2026.csv"
    source.parent.mkdir()
    ds.frame.to_csv(source, index=False)
    before = _digests(project)
    refused = run_cli(project, "init", "--source", str(source), "--target", ds.target)
    assert refused.returncode == 3 and "exists: pass --force" in refused.stderr
    assert _digests(project) == before
    result = run_cli(project, "init", "--source", str(source), "--target", ds.target, "--force")
    assert result.returncode == 0, result.stderr
    assert "3 classes: ['class_0', 'class_1', 'class_2']" in result.stdout
    assert "next: `dvc repro prepare" in result.stdout
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert {k: params["data"][k] for k in ("source", "raw", "target", "features", "delimiter")} == {
        "source": str(source), "raw": "data/raw/wine_2026.csv", "target": "cultivar", "features": ds.features,
        "delimiter": ","}
    text = (project / "params.yaml").read_text()
    assert "# Every tunable and every gate threshold lives here" in text and "baseline_rev: main     #" in text
    contract = load_contract(project / "gx/expectations/data.json")
    assert list(contract.names) == list(ds.frame.columns)
    assert json.loads((project / "gx/expectations/data.json").read_text())["meta"]["notes"].startswith(
        "The data contract, drafted by `pipeline init`")


@pytest.mark.parametrize(("content", "args", "problem"), [
    (b"a,b\n1,x\n2,y\n", ["--target", "c"], "target 'c' is not a column"),
    (b"a;b\n1;x\n2;y\n", ["--target", "b"], "the header has 1 column(s) with --delimiter ','"),
    (b"a,a,b\n1,2,x\n3,4,y\n", ["--target", "b"], "the header names ['a'] more than once"),
    (b"a,b\n1,\xff\n", ["--target", "b"], "not valid UTF-8"),
    (b"a,b\n1,x\n2,x\n", ["--target", "b"], "holds 1 class(es)"),
    (b"a,b\n1,0.5\n2,1.5\n", ["--target", "b"], "a regression target"),
    (b"", ["--target", "b"], "cannot parse the CSV"),
    (b"a,b\n1,x\n", ["--target", "b", "--delimiter", ";;"], "--delimiter must be one character"),
], ids=["no_target", "wrong_delimiter", "duplicate_header", "non_utf8", "one_class", "regression", "empty",
        "long_delimiter"])
def test_a_bad_file_is_one_line_and_nothing_is_written(project: Path, tmp_path: Path, content: bytes,
                                                       args: list[str], problem: str) -> None:
    source = tmp_path / "mine.csv"
    source.write_bytes(content)
    before = _digests(project)
    result = run_cli(project, "init", "--source", str(source), *args, "--force")
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and problem in lines[0] and "Traceback" not in result.stderr, lines
    assert _digests(project) == before
