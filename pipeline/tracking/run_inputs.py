"""What one pipeline run is, for MLflow: read from dvc.lock and the stage outputs, no mlflow import.

The run key is a hash of dvc.lock's entries for the stages that make the model and its metrics. DVC writes an
entry only when it runs the stage, so the key changes exactly when one of them ran on different inputs: the
same inputs (every stage skipped, or a re-run that reproduced the same bytes) give the same key, and
`pipeline track log` finds the run already logged under it instead of logging a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_yaml, read_json_object_or_none
from pipeline.errors import ConfigError
from pipeline.gates.report import flatten
from pipeline.params import Params
from pipeline.paths import Paths
from pipeline.stage_lock import md5_of

# The stages whose outputs a tracked run describes (data split and gate, model, its export, its metrics).
TRACKED_STAGES = ("prepare", "validate", "train", "export", "evaluate")
# The stages whose params the run logs: the ones that read params to make the model and measure it.
PARAM_STAGES = ("train", "export", "evaluate")

RUN_KEY_TAG = "pipeline.run_key"
_METRIC_KEY = re.compile(r"[^\w\-. /]")


def sha256_file(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def numeric_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Every number in metrics.json under its dotted path (per-class recall etc.), in MLflow's key alphabet."""
    flat = flatten(metrics)
    return {
        _METRIC_KEY.sub("_", key): float(value)
        for key, value in flat.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


@dataclass(frozen=True)
class PipelineRun:
    run_key: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    artifacts: dict[str, list[Path]] = field(default_factory=dict)  # MLflow artifact dir -> files
    model_path: Path | None = None
    model_meta_path: Path | None = None
    onnx_path: Path | None = None
    test_split: Path | None = None
    contract_path: Path | None = None


def read_lock(root: Path) -> dict[str, Any]:
    path = root / "dvc.lock"
    try:
        lock = load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("dvc.lock: not found; run `dvc repro` before `pipeline track log`") from None
    except (OSError, UnicodeDecodeError, ParseError) as exc:
        raise ConfigError(f"dvc.lock: cannot be read ({exc}); run `dvc repro` to rewrite it") from None
    stages = lock.get("stages") if isinstance(lock, Mapping) else None
    if not isinstance(stages, Mapping):
        raise ConfigError("dvc.lock: has no `stages`; run `dvc repro` to rewrite it")
    return dict(stages)


def run_key(stages: Mapping[str, Any]) -> str:
    missing = [s for s in TRACKED_STAGES if s not in stages]
    if missing:
        raise ConfigError(f"dvc.lock: no record of stage(s) {missing}; run `dvc repro` first")
    canonical = json.dumps({s: stages[s] for s in TRACKED_STAGES}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _stage_params(stages: Mapping[str, Any]) -> dict[str, str]:
    params: dict[str, str] = {}
    for stage in PARAM_STAGES:
        for file_params in (stages[stage].get("params") or {}).values():
            for key, value in flatten(file_params or {}).items():
                # MLflow params are strings; JSON keeps lists and nulls readable and unambiguous.
                params[key] = value if isinstance(value, str) else json.dumps(value)
    return params


def _lookup(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, Mapping) or part not in tree:
            return None
        tree = tree[part]
    return tree


def _stale(root: Path, entry: Mapping[str, Any], params_tree: Any) -> str | None:
    """Why the working tree is not what dvc.lock recorded for a stage (its files and params), else None.

    dvc.lock lists resolved paths (no ${...}) and the stage's metrics and plots among its outs, so this reads
    the lock alone rather than comparing it with dvc.yaml (pipeline.stage_lock does that for the data gate).
    """
    for item in [*(entry.get("deps") or []), *(entry.get("outs") or [])]:
        path, md5 = root / str(item.get("path")), str(item.get("md5", ""))
        if md5.endswith(".dir"):
            continue  # a directory's hash is DVC's own manifest; the stages tracked here write files
        if not path.is_file():
            return f"{item.get('path')} is missing"
        if md5_of(path) != md5:
            return f"{item.get('path')} changed"
    for file_params in (entry.get("params") or {}).values():
        for key, value in (file_params or {}).items():
            if _lookup(params_tree, key) != value:
                return f"param {key} changed"
    return None


def collect(params: Params, paths: Paths, git_commit: str | None) -> PipelineRun:
    """The run as `dvc repro` left it; refuses a working tree that no longer matches dvc.lock."""
    root = paths.root
    stages = read_lock(root)
    key = run_key(stages)
    params_tree = load_yaml(paths.params.read_text(encoding="utf-8"))
    for stage in TRACKED_STAGES:
        reason = _stale(root, stages[stage], params_tree)
        if reason is not None:
            raise ConfigError(f"dvc.lock: stage {stage!r} is not up to date ({reason}); run `dvc repro` "
                              "before `pipeline track log`, so the run describes what the pipeline produced")
    metrics = read_json_object_or_none(paths.metrics) or {}
    contract, drift = root / params.gates.data.suite, root / params.gates.data.drift_suite
    tags = {
        RUN_KEY_TAG: key,
        "pipeline.dvc_lock_sha256": sha256_file(root / "dvc.lock") or "",
        "pipeline.contract_sha256": sha256_file(contract) or "",
        "pipeline.drift_reference_sha256": sha256_file(drift) or "",
        "pipeline.model_sha256": sha256_file(paths.model) or "",
        "pipeline.onnx_sha256": sha256_file(paths.onnx_model) or "",
        "pipeline.task": str(metrics.get("task", "")),
    }
    for stage in TRACKED_STAGES:
        for out in stages[stage].get("outs") or []:
            tags[f"dvc.{stage}.{out.get('path')}"] = f"md5:{out.get('md5', '')}"
    if git_commit:
        tags["mlflow.source.git.commit"] = git_commit
    plots = sorted(p for p in paths.plots.glob("*") if p.suffix in {".json", ".png"}) if paths.plots.is_dir() else []
    artifacts = {
        "plots": plots,
        "pipeline": [p for p in (root / "dvc.lock", paths.metrics, contract, drift) if p.is_file()],
        "model_files": [p for p in (paths.model, paths.model_meta, paths.onnx_model, paths.serving_meta)
                        if p.is_file()],
    }
    return PipelineRun(
        run_key=key,
        params=_stage_params(stages),
        metrics=numeric_metrics(metrics),
        tags=tags,
        artifacts=artifacts,
        model_path=paths.model if paths.model.is_file() else None,
        model_meta_path=paths.model_meta if paths.model_meta.is_file() else None,
        onnx_path=paths.onnx_model if paths.onnx_model.is_file() else None,
        test_split=paths.test if paths.test.is_file() else None,
        contract_path=contract if contract.is_file() else None,
    )
