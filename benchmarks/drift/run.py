"""Cost of live drift monitoring per request: the real server (`python -m model_server`, one worker, the project's
model in models/) twice, DRIFT=true and DRIFT=false, side by side in one run, on loopback.

    .venv/bin/python -m benchmarks.drift.run              # about a minute
    .venv/bin/python -m benchmarks.drift.run --requests 200 --rounds 1   # to try the script

Requests are records of the test split (data/prepared/test.parquet), sent one after another over one keep-alive
connection, rounds of both servers interleaved so load from other jobs on the machine hits both alike. Measured:
client-side latency (median, p99) and the server process's CPU time per request (user + system, from
/proc via psutil, before and after each round), for 1-record and 100-record requests; plus the drift window's own
cost per record in-process (Monitor.observe with the gauges refreshed on every call, the worst case).
DRIFT_REFRESH_SECONDS is left at its default (1 s) for the servers. Writes benchmarks/drift/results.json and
prints the Markdown table for benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import requests

from model_server.drift import DriftWindow
from model_server.metrics import Metrics
from model_server.model_meta import ServingMeta
from model_server.monitor import Monitor
from tests.monitoring_stack import ROOT, model_server

OUT = Path(__file__).with_name("results.json")


def records(n: int) -> list[dict[str, Any]]:
    meta = ServingMeta.read(ROOT / "models" / "serving.json")
    frame = pd.read_parquet(ROOT / "data" / "prepared" / "test.parquet", columns=list(meta.model.features))
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in frame.to_dict("records")]
    return [rows[i % len(rows)] for i in range(n)]


def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def server_pid(url: str) -> int:
    port = int(url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return int(conn.pid)
    raise RuntimeError(f"no process listens on {port}")


def round_(http: requests.Session, url: str, pid: int, bodies: list[Any]) -> dict[str, Any]:
    latencies = []
    cpu0 = cpu_seconds(pid)
    for body in bodies:
        start = time.perf_counter()
        answer = http.post(f"{url}/predict", json=body, timeout=30)
        latencies.append(time.perf_counter() - start)
        answer.raise_for_status()
    return {"latencies": latencies, "cpu": cpu_seconds(pid) - cpu0}


def in_process(rows: list[dict[str, Any]]) -> dict[str, float]:
    meta = ServingMeta.read(ROOT / "models" / "serving.json")
    assert meta.drift_reference is not None, "models/serving.json has no drift reference; run `dvc repro export`"
    features = list(meta.model.features)
    out = {}
    for refresh in (0.0, 1.0):
        monitor = Monitor(Metrics(), model_hash="bench", release="bench", ready=True, features=features,
                          window=DriftWindow(meta.drift_reference, features, 1000), min_records=1,
                          refresh_seconds=refresh)
        labels = [meta.model.classes[i % len(meta.model.classes)] for i in range(len(rows))]
        start = time.perf_counter()
        for row, label in zip(rows, labels, strict=True):
            monitor.observe([row], [label])
        out[f"refresh {refresh:g} s"] = (time.perf_counter() - start) / len(rows) * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="requests per round and request size")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rows = records(args.requests * 100)
    sizes = {1: [rows[i] for i in range(args.requests)],
             100: [rows[i * 100:(i + 1) * 100] for i in range(args.requests // 10)]}
    contract = ROOT / "gx" / "expectations" / "data.json"
    results: dict[str, Any] = {}
    with model_server(ROOT / "models", contract, DRIFT="false") as off, \
            model_server(ROOT / "models", contract, DRIFT="true") as on:
        servers = {"drift off": (off, server_pid(off)), "drift on": (on, server_pid(on))}
        with requests.Session() as http_off, requests.Session() as http_on:
            sessions = {"drift off": http_off, "drift on": http_on}
            for name, (url, _) in servers.items():  # warm-up, and the window past its minimum
                for body in sizes[1][:300]:
                    sessions[name].post(f"{url}/predict", json=body, timeout=30).raise_for_status()
            for size, bodies in sizes.items():
                for _ in range(args.rounds):
                    for name, (url, pid) in servers.items():
                        r = round_(sessions[name], url, pid, bodies)
                        slot = results.setdefault(f"{size}", {}).setdefault(name, {"latencies": [], "cpu": 0.0,
                                                                                   "requests": 0})
                        slot["latencies"] += r["latencies"]
                        slot["cpu"] += r["cpu"]
                        slot["requests"] += len(bodies)
        window = requests.get(f"{on}/metrics", timeout=10).text
        assert "model_drift_psi" in window, "the drift-on server exported no drift"
    table = []
    for size, by_server in results.items():
        for name, slot in by_server.items():
            lat = sorted(slot["latencies"])
            table.append({"records per request": int(size), "server": name, "requests": slot["requests"],
                          "median ms": statistics.median(lat) * 1e3, "p99 ms": lat[int(len(lat) * 0.99) - 1] * 1e3,
                          "server CPU us per request": slot["cpu"] / slot["requests"] * 1e6})
    micro = in_process(rows[:20_000])
    OUT.write_text(json.dumps({"table": table, "observe_us_per_record": micro}, indent=2) + "\n")
    print("| records per request | server | requests | median ms | p99 ms | server CPU µs per request |")
    print("|---:|---|---:|---:|---:|---:|")
    for row in table:
        print(f"| {row['records per request']} | {row['server']} | {row['requests']} | {row['median ms']:.2f} | "
              f"{row['p99 ms']:.2f} | {row['server CPU us per request']:.0f} |")
    print()
    for what, us in micro.items():
        print(f"Monitor.observe, one record, gauges {what}: {us:.1f} µs per record")


if __name__ == "__main__":
    main()
