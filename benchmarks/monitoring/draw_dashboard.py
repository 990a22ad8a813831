"""Draw the Grafana dashboard's panels (monitoring/grafana/dashboards/model-serving.json) from metrics recorded off
the running stack, for docs/monitoring.md.

    .venv/bin/python -m benchmarks.monitoring.draw_dashboard      # about 2 minutes; writes docs/img/dashboard.png

The stack is real: `python -m model_server` serving the project's model (models/, WEB_CONCURRENCY=2) and Debian's
`prometheus` scraping it every second with monitoring/prometheus/rules.yml. Traffic on loopback, in three phases:
clean records drawn from the test split; then drifted records (bill length shifted up by 8 mm, every island one
island, a third of `sex` missing) with some out-of-contract values (422s); then clean again. Each panel's queries
run against Prometheus' range API exactly as the dashboard has them ($__rate_interval = 10s) and are drawn with
matplotlib, one subplot per panel, in the dashboard's order.
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import requests

from model_server.model_meta import ServingMeta
from tests.monitoring_stack import ROOT, dashboard_queries, model_server, prometheus, query_range

OUT = ROOT / "docs" / "img" / "dashboard.png"


def test_records() -> list[dict[str, Any]]:
    meta = ServingMeta.read(ROOT / "models" / "serving.json")
    frame = pd.read_parquet(ROOT / "data" / "prepared" / "test.parquet", columns=list(meta.model.features))
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]


def drifted(row: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = dict(row)
    if out.get("bill_length_mm") is not None:
        out["bill_length_mm"] = min(out["bill_length_mm"] + 8, 59.0)
    out["island"] = "Torgersen"
    if rng.random() < 0.33:
        out["sex"] = None
    return out


def traffic(url: str, rows: list[dict[str, Any]], phases: list[tuple[str, float]], rate: float) -> None:
    rng = random.Random(1)
    with requests.Session() as http:
        for kind, seconds in phases:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                batch = [rng.choice(rows) for _ in range(rng.randint(1, 4))]
                if kind == "drifted":
                    batch = [drifted(r, rng) for r in batch]
                    if rng.random() < 0.1:  # a value the contract refuses: 422
                        batch[0] = {**batch[0], "body_mass_g": 1e7}
                http.post(f"{url}/predict", json=batch, timeout=10)
                time.sleep(1 / rate)


def draw(prom: str, start: float, end: float, marks: list[tuple[float, str]]) -> None:
    panels: dict[str, list[str]] = {}
    for title, expr in dashboard_queries():
        panels.setdefault(title, []).append(expr)
    cols = 2
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(13, 2.6 * rows), sharex=True)
    for ax, (title, exprs) in zip(axes.flat, panels.items(), strict=False):
        for expr in exprs:
            for series in query_range(prom, expr, start, end, 1, rate_interval="10s"):
                xs = [float(t) - start for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = ",".join(f"{v}" for k, v in series["metric"].items() if k not in {"model_hash"}) or "value"
                if len(exprs) > 1:
                    label = ("p99 " if "0.99" in expr else "p50 ") + label
                ax.plot(xs, ys, label=label[:28], linewidth=1.2)
        for at, text in marks:
            ax.axvline(at - start, color="grey", linestyle=":", linewidth=0.8)
            ax.text(at - start, 1.0, f" {text}", transform=ax.get_xaxis_transform(), fontsize=7, va="top",
                    color="grey")
        if "PSI" in title:
            ax.axhline(0.25, color="red", linestyle="--", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        if ax.lines:
            ax.legend(fontsize=6, loc="upper left", ncol=2)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("seconds", fontsize=8)
    fig.suptitle("Model serving dashboard, drawn from Prometheus (clean -> drifted -> clean traffic)", fontsize=11)
    fig.tight_layout()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=90)
    print(f"wrote {OUT.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phase-seconds", type=float, default=40.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second (about)")
    args = parser.parse_args()
    rows = test_records()
    env = {"WEB_CONCURRENCY": "2", "DRIFT_WINDOW": "300", "DRIFT_MIN_RECORDS": "100", "HEROKU_RELEASE_VERSION": "v12"}
    contract = ROOT / "gx" / "expectations" / "data.json"
    with model_server(ROOT / "models", contract, **env) as app, prometheus([app]) as prom:
        p = args.phase_seconds
        phases = [("clean", p), ("drifted", p), ("clean", p)]
        start = time.time()
        worker = threading.Thread(target=traffic, args=(app, rows, phases, args.rate))
        worker.start()
        worker.join()
        time.sleep(3)  # the last scrapes
        end = time.time()
        draw(prom, start, end, [(start + p, "drifted traffic"), (start + 2 * p, "clean again")])


if __name__ == "__main__":
    main()
