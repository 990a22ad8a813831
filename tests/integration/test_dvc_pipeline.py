"""Real `dvc repro` in a temporary git repository holding a copy of the project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, REPO
from tests.integration.conftest import STAGES, digest, ran, sh
from tests.integration.test_bad_inputs import _bomb

pytestmark = pytest.mark.integration


def test_noop_repro_runs_nothing(repo: Path) -> None:
    out = sh(repo, "dvc", "repro").stdout
    assert ran(out) == []
    assert all(f"Stage '{s}' didn't change" in out for s in STAGES)


def test_the_data_gate_reuses_the_reproduced_verdict_only_while_its_inputs_are_unchanged(repo: Path) -> None:
    reused = "reused the verdict `dvc repro` recorded"
    # The clone's repro skipped validate (its reports come with the clone), so there are no Data Docs: the gate
    # says how to build them instead of validating unchanged data.
    docs = repo / "reports" / "data_docs"
    assert not docs.exists()
    first = sh(repo, "pipeline", "gate", "data").stdout
    assert reused in first and "`pipeline gate data --fresh` builds them" in first and not docs.exists()
    assert reused not in sh(repo, "pipeline", "gate", "data", "--fresh").stdout
    assert (docs / "index.html").is_file()
    assert "--fresh` builds them" not in sh(repo, "pipeline", "gate", "data").stdout
    # An edited report is never trusted: its md5 no longer matches dvc.lock, so the gate validates again
    # (and writes the same bytes back: the stage is deterministic).
    report = repo / "reports" / "data_gate.json"
    original = report.read_bytes()
    report.write_text('{"passed": true, "summary": {}}')
    assert reused not in sh(repo, "pipeline", "gate", "data", "--no-docs").stdout
    assert report.read_bytes() == original
    # A changed param the stage reads: validated again, and the verdict reused once it is back.
    params = repo / "params.yaml"
    before = params.read_text()
    tree = yaml.safe_load(before)
    tree["gates"]["data"]["max_examples"] = tree["gates"]["data"]["max_examples"] + 1
    params.write_text(yaml.safe_dump(tree, sort_keys=False))
    try:
        assert reused not in sh(repo, "pipeline", "gate", "data", "--no-docs").stdout
    finally:
        params.write_text(before)
        sh(repo, "pipeline", "gate", "data", "--no-docs")  # the report of the original params again
    assert reused in sh(repo, "pipeline", "gate", "data").stdout


def test_editing_the_source_csv_reruns_ingest(repo: Path) -> None:
    source = repo / "data/external/penguins.csv"
    original = source.read_text()
    try:
        header, *rows = original.splitlines()
        source.write_text("\n".join([header, *rows[:-1]]) + "\n")
        # Up to prepare only: what is proven is that ingest sees the edit; the stages after it would retrain twice.
        out = sh(repo, "dvc", "repro", "prepare").stdout
        assert ran(out) == ["ingest", "prepare"]
        assert (repo / "data/raw/penguins.csv").read_text().count("\n") == len(rows)
    finally:
        source.write_text(original)
        sh(repo, "dvc", "repro", "prepare")
    # The original data prepares the same bytes again, so nothing after prepare is out of date.
    assert ran(sh(repo, "dvc", "repro").stdout) == []


def test_changing_one_hyperparameter_reruns_only_train_onward(repo: Path) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["train"]["random_forest"]["n_estimators"] = 50
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    out = sh(repo, "dvc", "repro").stdout
    # The gate re-runs only if the metrics file changed; nothing upstream of train may run.
    assert ran(out)[0] == "train"
    assert {"train", "export", "evaluate"} <= set(ran(out)) <= {"train", "export", "evaluate", "gate"}
    meta = yaml.safe_load((repo / "models" / "model.json").read_text())
    assert meta["hyperparameters"]["n_estimators"] == 50


def test_push_and_pull_round_trip_data_and_models(repo: Path) -> None:
    sh(repo, "dvc", "push")
    tracked = [repo / "data/raw/penguins.csv", repo / "data/prepared/train.parquet", repo / "models/model.skops",
               repo / "models/model.onnx"]
    before = {p: digest(p) for p in tracked}
    shutil.rmtree(repo / ".dvc" / "cache")
    for p in tracked:
        p.unlink()
    sh(repo, "dvc", "pull")
    assert {p: digest(p) for p in tracked} == before
    assert (repo / ".dvc-storage").is_dir()


def test_bad_data_stops_the_dag_before_training(repo: Path) -> None:
    model, metrics = repo / "models/model.skops", repo / "reports/metrics.json"
    before = (digest(model), digest(metrics))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["data"]["source"] = str(REPO / "tests/data/bad/unseen_category.csv")
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = sh(repo, "dvc", "repro", check=False)
    assert result.returncode != 0
    assert ran(result.stdout) == ["ingest", "prepare", "validate"]
    assert "column 'island'" in result.stderr and "'Atlantis'" in result.stderr
    assert (digest(model), digest(metrics)) == before



def _params_bombs() -> list[tuple[str, str]]:
    text = (REPO / "params.yaml").read_text(encoding="utf-8")
    return [
        (_bomb() + text, "line 7: expands to more than 2000000 values once its aliases are resolved"),
        (text.replace("  features: [island", "  features: *a8\n  old_features: [island").replace(
            "data:\n", _bomb() + "data:\n", 1), "expands to more than 2000000 values"),
        ("a: " + "[" * 50_000 + "]" * 50_000 + "\n" + text, "line 1: nested more than 64 levels deep"),
        ("a: &a [*a]\n" + text, "a recursive alias"),
    ]


@pytest.mark.parametrize(("text", "expected"), _params_bombs(),
                         ids=["alias_bomb", "alias_bomb_under_a_known_key", "deep_nesting", "recursive_alias"])
def test_bare_dvc_repro_refuses_a_hostile_params_yaml_in_seconds(repo: Path, text: str, expected: str) -> None:
    # No `pipeline check` in front: the venv's guard (pipeline/dvc_guard.py, installed by `make install`) bounds
    # DVC's own parser. Without it DVC's templating context copies every alias and grows until killed.
    params = repo / "params.yaml"
    original = params.read_text(encoding="utf-8")
    kept = {p: digest(repo / p) for p in ("models/model.skops", "models/model.onnx", "reports/metrics.json")}
    try:
        params.write_text(text, encoding="utf-8")
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1"}
        result = subprocess.run([str(BIN / "dvc"), "repro"], cwd=repo, env=env, capture_output=True, text=True,
                                timeout=120)
    finally:
        params.write_text(original, encoding="utf-8")
    assert result.returncode != 0
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("ERROR: unable to read: 'params.yaml', "), lines
    assert expected in lines[0]
    assert ran(result.stdout) == []
    assert {p: digest(repo / p) for p in kept} == kept


def test_make_run_writes_the_report_when_the_gate_fails_and_exits_non_zero(repo: Path) -> None:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["train"]["random_forest"].update(n_estimators=1, max_depth=1)  # a model too weak for the floors
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (repo / "reports/report.md").unlink(missing_ok=True)
    result = sh(repo, "make", "--no-print-directory", "run", f"VENV={BIN.parent}", check=False)
    assert result.returncode != 0
    assert "failed to reproduce 'gate'" in result.stderr
    report = (repo / "reports/report.md").read_text()
    assert "Metric gate: failed" in report and "gates.metrics.min_accuracy" in report


def _dvc_outputs(root: Path) -> list[str]:
    """Every output, metric and plot file dvc.yaml declares, `${...}` resolved from params.yaml as DVC does."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((root / "params.yaml").read_text())

    def resolve(path: str) -> str:
        def value(match: re.Match[str]) -> str:
            node = params
            for key in match.group(1).split("."):
                node = node[key]
            return str(node)

        return re.sub(r"\$\{([\w.]+)\}", value, path)

    return [resolve(next(iter(entry)) if isinstance(entry, dict) else entry)
            for stage in stages.values() for kind in ("outs", "metrics", "plots") for entry in stage.get(kind, [])]


def _point_source_at(root: Path, source: str) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"]["source"] = source
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_a_failing_stage_keeps_every_previous_output_and_the_fixed_input_rebuilds_the_same(repo: Path) -> None:
    """DVC deletes a stage's outputs before running it unless they are `persist: true`; with persist and
    atomic writes, a stage failing on bad input leaves the last good outputs exactly as they were."""
    shutil.copy2(REPO / "params.yaml", repo / "params.yaml")  # earlier tests in this module changed it
    sh(repo, "dvc", "repro")
    outputs = _dvc_outputs(repo)
    assert "data/prepared/train.parquet" in outputs and "reports/metrics.json" in outputs
    before = {p: digest(repo / p) for p in outputs}

    _point_source_at(repo, str(REPO / "tests/data/bad/missing_column.csv"))
    result = sh(repo, "dvc", "repro", check=False)
    assert result.returncode != 0 and ran(result.stdout) == ["ingest", "prepare"]
    assert "missing columns ['body_mass_g']" in result.stderr
    # ingest succeeded (the raw snapshot is the bad file now); everything downstream is the last good run's.
    assert {p: digest(repo / p) for p in outputs if p != "data/raw/penguins.csv"} == {
        p: h for p, h in before.items() if p != "data/raw/penguins.csv"}

    raw = digest(repo / "data/raw/penguins.csv")
    _point_source_at(repo, str(repo / "no-such-file.csv"))
    result = sh(repo, "dvc", "repro", check=False)
    # The source is a dependency of ingest (${data.source}): DVC itself stops before running it, naming the file.
    assert result.returncode != 0 and ran(result.stdout) == []
    assert "no-such-file.csv" in result.stderr and "No such file" in result.stderr
    assert digest(repo / "data/raw/penguins.csv") == raw  # a failed ingest keeps the snapshot it had

    shutil.copy2(REPO / "params.yaml", repo / "params.yaml")
    sh(repo, "dvc", "repro")
    assert {p: digest(repo / p) for p in outputs} == before
    assert "Data and pipelines are up to date" in sh(repo, "dvc", "status").stdout
