"""The watch window in the deploy record: the Markdown row and the one-line failure (no I/O)."""

from __future__ import annotations

from pipeline.deploy.deployer import failure_message
from pipeline.deploy.record import DeployRecord
from pipeline.deploy.watch import WatchResult
from pipeline.gates.watch import Window, judge
from pipeline.params import WatchParams


def test_a_clean_window_is_one_row_of_figures_in_the_summary():
    verdict = judge(Window(requests=300, errors=0, p99_seconds=0.012, drift_psi={"island": 0.08},
                           prediction_shift=0.01, drift_records=320, ready=1), WatchParams())
    record = DeployRecord("deploy", "penguins", "local", outcome="deployed", release={"version": 2})
    record.watch = WatchResult(verdict, 600.2, 60, "Prometheus http://prom:9090 (job=penguins)").to_dict(600)
    md = record.to_markdown()
    assert ("| watch window | clean after 600.2 of 600 s, 60 reads of Prometheus http://prom:9090 (job=penguins): "
            "300 requests, error rate 0, p99 0.012 s, drift PSI 0.08 (island), prediction shift 0.01 over 320 "
            "records |") in md
    assert record.to_dict()["watch"]["verdict"] == "clean"


def test_a_breach_names_signal_value_threshold_and_the_rollback():
    verdict = judge(Window(requests=40, errors=33), WatchParams())
    record = DeployRecord("deploy", "penguins", "local", outcome="rolled_back", release={"version": 42})
    record.watch = WatchResult(verdict, 3.0, 3, "http://127.0.0.1:5000/metrics").to_dict(600)
    record.failure = {"step": "watch", "code": "breach:error_rate", "message": "error rate (33 of 40 answers 5xx) "
                      "0.825 > max 0.05 after 3 s"}
    record.rolled_back_to = {"version": 43, "to_version": 41}
    assert failure_message(record) == (
        "deploy of penguins failed at watch: error rate (33 of 40 answers 5xx) 0.825 > max 0.05 after 3 s; "
        "rolled back to v41 (now v43), which passed the smoke test again")
    breach = record.watch["breaches"][0]
    assert (breach["signal"], breach["value"], breach["threshold"]) == ("error_rate", 0.825, 0.05)
