"""report: one Markdown file combining both gates, the params diff and the plots."""

from __future__ import annotations

from model_server.safe_load import load_yaml, read_json_object_or_none
from pipeline import baseline
from pipeline.gates import report
from pipeline.io import write_text
from pipeline.params import Params
from pipeline.paths import Paths
from pipeline.stages.evaluate import plot_files


def run(params: Params, paths: Paths, baseline_rev: str | None = None, tracking_md: str | None = None) -> str:
    rev = baseline_rev or params.gates.metrics.baseline_rev
    base = None
    if rev is not None:
        base = baseline.yaml_at(paths.root, rev, "params.yaml")
        if base is None:  # a pull-request checkout may only have the remote-tracking ref
            base = baseline.yaml_at(paths.root, f"origin/{rev}", "params.yaml")
    # Already validated by load_params: this reads it again only for the diff's raw values.
    current = load_yaml(paths.params.read_text(encoding="utf-8"))
    plots = [f"plots/{p}" for p in plot_files() if (paths.plots / p).is_file()]
    # The report says what is missing rather than failing.
    served = report.served_model_md(read_json_object_or_none(paths.serving_meta),
                                    read_json_object_or_none(paths.model_meta))
    text = report.compose(
        data_md=paths.data_gate_md.read_text(encoding="utf-8") if paths.data_gate_md.is_file() else None,
        metrics_md=paths.metrics_gate_md.read_text(encoding="utf-8") if paths.metrics_gate_md.is_file() else None,
        diff=report.params_diff(current, base),
        baseline_label=rev or "no baseline (gates.metrics.baseline_rev: null)",
        has_baseline_params=base is not None,
        plots=plots,
        served_md=served,
        tracking_md=tracking_md,
    )
    write_text(paths.report_md, text)
    return text
