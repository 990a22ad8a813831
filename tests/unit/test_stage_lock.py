"""changed_since_repro: dvc.lock's record of a stage against the working tree, without DVC."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.stage_lock import changed_since_repro, md5_of

PARAMS = {"gates": {"data": {"max_examples": 5}}, "train": {"seed": 1}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "in.csv").write_text("a,b\n1,2\n")
    (tmp_path / "gate.json").write_text('{"passed": true}')
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"validate": {
        "cmd": "pipeline validate", "deps": ["in.csv"], "params": ["gates.data"],
        "outs": [{"gate.json": {"cache": False}}]}}}))
    write_lock(tmp_path)
    return tmp_path


def write_lock(root: Path, **override: Any) -> None:
    stage = {
        "cmd": "pipeline validate",
        "deps": [{"path": "in.csv", "hash": "md5", "md5": md5_of(root / "in.csv")}],
        "params": {"params.yaml": {"gates.data": {"max_examples": 5}}},
        "outs": [{"path": "gate.json", "hash": "md5", "md5": md5_of(root / "gate.json")}],
        **override,
    }
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"validate": stage}}))


def test_md5_is_dvcs_plain_content_md5(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 3_000_000)
    assert md5_of(tmp_path / "f") == hashlib.md5(b"x" * 3_000_000, usedforsecurity=False).hexdigest()


def test_an_unchanged_stage_has_no_reason(project: Path) -> None:
    assert changed_since_repro(project, "validate", PARAMS) is None
    # A param the stage does not read may change freely.
    assert changed_since_repro(project, "validate", {**PARAMS, "train": {"seed": 2}}) is None


@pytest.mark.parametrize(("change", "reason"), [
    (lambda root: (root / "in.csv").write_text("a,b\n1,3\n"), "dependency in.csv changed"),
    (lambda root: (root / "in.csv").unlink(), "dependency in.csv is missing"),
    (lambda root: (root / "gate.json").write_text('{"passed": true, "edited": 1}'), "output gate.json changed"),
    (lambda root: (root / "dvc.lock").unlink(), "cannot be read"),
    (lambda root: write_lock(root, cmd="pipeline validate --no-docs"), "command changed"),
    (lambda root: write_lock(root, deps=[]), "deps in dvc.yaml changed"),
    (lambda root: write_lock(root, params={"params.yaml": {}}), "params in dvc.yaml changed"),
    (lambda root: write_lock(root, deps=[{"path": "in.csv", "md5": "0" * 32 + ".dir"}]), "is a directory"),
])
def test_any_change_to_what_the_stage_read_or_wrote_is_named(project: Path, change: Any, reason: str) -> None:
    change(project)
    assert reason in (changed_since_repro(project, "validate", PARAMS) or "")


def test_a_changed_param_is_named(project: Path) -> None:
    changed = {**PARAMS, "gates": {"data": {"max_examples": 6}}}
    assert changed_since_repro(project, "validate", changed) == "param gates.data changed"


def test_a_stage_never_reproduced_has_no_record(project: Path) -> None:
    assert "no record" in (changed_since_repro(project, "train", PARAMS) or "")
