"""gate: the metric gate stage: floors from params.yaml, no-regression against the baseline revision."""

from __future__ import annotations

from model_server.safe_load import read_json
from pipeline import baseline
from pipeline.errors import GateFailed
from pipeline.gates import metrics as metric_gate
from pipeline.gates.verdict import Verdict
from pipeline.io import write_json, write_text
from pipeline.params import Params
from pipeline.paths import Paths


def load_baseline(paths: Paths, rev: str) -> tuple[dict | None, str]:
    rel = paths.rel(paths.metrics)
    # In a pull-request checkout the base branch is often only a remote-tracking ref.
    for candidate in (rev, f"origin/{rev}"):
        found = baseline.json_at(paths.root, candidate, rel)
        if found is not None:
            return found, candidate
    return None, rev


def run(params: Params, paths: Paths, baseline_rev: str | None = None) -> Verdict:
    """`baseline_rev` (the --baseline flag) overrides gates.metrics.baseline_rev, which may be null: no baseline."""
    current = read_json(paths.metrics, "metrics")
    rev = baseline_rev or params.gates.metrics.baseline_rev
    base, label = load_baseline(paths, rev) if rev is not None else (None, None)
    verdict = metric_gate.evaluate(current, base, params.gates.metrics, baseline_label=label)
    write_json(paths.metrics_gate_json, verdict.to_dict())
    markdown = metric_gate.to_markdown(verdict)
    write_text(paths.metrics_gate_md, markdown)
    if not verdict.passed:
        raise GateFailed(verdict.headline(), markdown)
    return verdict
