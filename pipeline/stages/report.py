"""report: one Markdown file combining both gates, the params diff and the plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from pipeline import baseline
from pipeline.gates import report
from pipeline.io import write_text
from pipeline.params import Params
from pipeline.paths import Paths
from pipeline.stages.evaluate import plot_files


def _json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the report says what is missing rather than failing
    return value if isinstance(value, dict) else None


def run(params: Params, paths: Paths, baseline_rev: str | None = None) -> str:
    rev = baseline_rev or params.gates.metrics.baseline_rev
    base = baseline.yaml_at(paths.root, rev, "params.yaml")
    if base is None:  # a pull-request checkout may only have the remote-tracking ref
        base = baseline.yaml_at(paths.root, f"origin/{rev}", "params.yaml")
    current = yaml.safe_load(paths.params.read_text(encoding="utf-8"))
    plots = [f"plots/{p}" for p in plot_files() if (paths.plots / p).is_file()]
    served = report.served_model_md(_json(paths.serving_meta), _json(paths.model_meta))
    text = report.compose(
        data_md=paths.data_gate_md.read_text(encoding="utf-8") if paths.data_gate_md.is_file() else None,
        metrics_md=paths.metrics_gate_md.read_text(encoding="utf-8") if paths.metrics_gate_md.is_file() else None,
        diff=report.params_diff(current, base),
        baseline_label=rev,
        has_baseline_params=base is not None,
        plots=plots,
        served_md=served,
    )
    write_text(paths.report_md, text)
    return text
