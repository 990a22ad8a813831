"""The shipped monitoring files (monitoring/): the Prometheus rules pass `promtool check rules` and their own unit
tests (`promtool test rules`, Debian's prometheus package); the Grafana dashboard and provisioning fit together.
That every query reads metrics the app really exports is checked against the running app and a real Prometheus
in tests/integration/serve/test_monitoring_stack.py."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.monitoring_stack import DASHBOARD, MONITORING, RULES, dashboard_queries, metric_names, require


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require("promtool"), *map(str, args)], capture_output=True, text=True, timeout=60,
                          check=False)


def test_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", RULES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULES.with_name("rules.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_fail_when_a_threshold_moves(tmp_path: Path) -> None:
    """The rule tests can fail: with the drift alert's threshold raised they must."""
    text = RULES.read_text(encoding="utf-8")
    assert "expr: feature:model_drift_psi:max > 0.25" in text
    (tmp_path / "rules.yml").write_text(text.replace("feature:model_drift_psi:max > 0.25",
                                                     "feature:model_drift_psi:max > 0.5"), encoding="utf-8")
    shutil.copy(RULES.with_name("rules.test.yml"), tmp_path)
    result = promtool("test", "rules", tmp_path / "rules.test.yml")
    assert result.returncode != 0 and "ModelFeatureDrift" in result.stdout + result.stderr


def test_every_alert_the_issue_asks_for_exists() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = {r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert {"ModelHighErrorRate", "ModelHighLatencyP99", "ModelFeatureDrift", "ModelPredictionShift",
            "ModelNotReady"} <= alerts


def test_dashboard_panels_use_the_provisioned_datasource() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    sources = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = sources["datasources"][0]["uid"]
    assert dash["uid"] and dash["panels"]
    for panel in dash["panels"]:
        assert panel["datasource"]["uid"] == uid, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/model-serving.yml").read_text())
    assert provider["providers"][0]["type"] == "file" and provider["providers"][0]["options"]["path"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))


def test_metric_names_are_read_from_promql() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket'
            '{route="/predict", status=~"5.."}[5m] offset 1h))) > bool 0.5 or on(job) vector(0)'
            ' / ignoring(x) group_left(y) job:recorded:ratio')
    assert metric_names(expr) == {"http_request_duration_seconds_bucket", "job:recorded:ratio"}
    assert {n for _, e in dashboard_queries() for n in metric_names(e)} >= {"model_drift_psi", "model_ready"}
