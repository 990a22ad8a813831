"""Serving benchmark: our image vs a naive tutorial image, side by side in one run, same model,
same limits (--cpus 1 --memory 512m, a Heroku standard-1x), on loopback only.

    .venv/bin/python benchmarks/serving/run.py            # ~8 minutes; needs wrk (apt-get install wrk)
    .venv/bin/python benchmarks/serving/run.py --quick    # shorter runs, for trying the script

Images: ours (the project Dockerfile on python:3.11-slim), the naive baseline on the tutorial's
python:3.11, and the same naive app on our slim base (to separate what the base adds from what
the recipe adds), and a floor: a standard-library server answering a constant on the slim base, the
cold start no Python app can undercut. Without Docker Hub the bases are Debian-built stand-ins: local/python-base:3.11
(scripts/ci/docker-engine.sh) and local/python-full:3.11 (benchmarks/serving/full-base.sh).

Measures: cold start (docker run -> first 200 from /predict, runs of all images interleaved so that
load from other jobs hits them alike), throughput and p50/p99 latency (wrk) for 1-record and
100-record requests, image size with its layers, idle/peak memory under load, ours with
WEB_CONCURRENCY=2, and a 60 s saturation run against ours: errors and memory over time.
Writes benchmarks/serving/results.json and prints Markdown tables for benchmarks/README-serving.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from pipeline import model as model_io  # noqa: E402
from pipeline.container import image  # noqa: E402

HERE = Path(__file__).resolve().parent
SLIM_STAND_IN = "local/python-base:3.11-ca"
FULL_STAND_IN = "local/python-full:3.11"
LIMITS = {"nano_cpus": 1_000_000_000, "mem_limit": "512m"}
RECORD = {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211.0,
          "body_mass_g": 4500.0, "sex": "female"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bases(client: Any, full_stand_in: str) -> tuple[str, str, str | None]:
    """(slim base, full base, build network): the Docker Hub images, or the Debian-built stand-ins
    (with the host CA, built with --network host) on machines without Docker Hub."""
    if not client.images.list(name=SLIM_STAND_IN):
        return "python:3.11-slim", "python:3.11", None
    if not client.images.list(name=f"{full_stand_in}-ca"):
        print(f"building {full_stand_in} (benchmarks/serving/full-base.sh)...", file=sys.stderr)
        subprocess.run(["bash", str(HERE / "full-base.sh")], check=True,
                       env={**os.environ, "FULL_IMAGE": full_stand_in})
    return SLIM_STAND_IN, f"{full_stand_in}-ca", "host"


def build_images(client: Any, prefix: str, full_stand_in: str) -> dict[str, Any]:
    slim, full, network = bases(client, full_stand_in)
    print("building ours (the project Dockerfile)...", file=sys.stderr)
    ours = image.build(client, image.BuildSpec(context=ROOT, repository=prefix, git_commit="bench",
                                               build_args={"PYTHON_IMAGE": slim}, network_mode=network))
    images = {"ours": {"id": ours.id, "size": ours.size, "layers": ours.layers, "base": slim}}
    loaded = model_io.load(ROOT / "models" / "model.skops", ROOT / "models" / "model.json")
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        for name in ("app.py", "Dockerfile", "requirements.txt"):
            shutil.copy2(HERE / "naive" / name, ctx / name)
        import joblib

        joblib.dump(loaded.estimator, ctx / "model.joblib")  # the same fitted estimator
        for label, base in (("naive", full), ("naive-slim", slim)):
            print(f"building {label} on {base}...", file=sys.stderr)
            built, _ = client.images.build(path=str(ctx), tag=f"{prefix}:{label}", buildargs={"PYTHON_IMAGE": base},
                                           network_mode=network, rm=True, forcerm=True)
            images[label] = {"id": built.id, "size": int(built.attrs["Size"]),
                             "layers": image.layer_sizes(client, built.id), "base": base}
    print(f"building floor on {slim}...", file=sys.stderr)
    built, _ = client.images.build(path=str(HERE / "floor"), tag=f"{prefix}:floor", buildargs={"PYTHON_IMAGE": slim},
                                   network_mode=network, rm=True, forcerm=True)
    images["floor"] = {"id": built.id, "size": int(built.attrs["Size"]),
                       "layers": image.layer_sizes(client, built.id), "base": slim}
    return images


def start(client: Any, image_id: str, name: str, env: dict[str, str]) -> tuple[Any, str]:
    port = free_port()
    container = client.containers.run(image_id, name=name, detach=True, environment={"PORT": str(port), **env},
                                      ports={f"{port}/tcp": ("127.0.0.1", port)}, **LIMITS)
    return container, f"http://127.0.0.1:{port}"


def first_prediction(url: str, container: Any, timeout: float = 120.0) -> float:
    """Seconds until POST /predict answers 200, polled every 10 ms (the same for every image)."""
    body = json.dumps(RECORD)
    start = time.monotonic()
    with requests.Session() as s:
        while time.monotonic() - start < timeout:
            try:
                r = s.post(f"{url}/predict", data=body, headers={"content-type": "application/json"}, timeout=5)
                if r.status_code == 200:
                    return time.monotonic() - start
            except requests.RequestException:
                pass
            time.sleep(0.01)
    raise RuntimeError(f"{container.name}: no successful /predict after {timeout}s")


def cold_starts(client: Any, cases: dict[str, tuple[str, dict[str, str]]], runs: int,
                prefix: str) -> dict[str, list[dict[str, float]]]:
    """Per case, per run: `total_s` from `docker run` to the first 200 from /predict, of which
    `engine_s` passed before the engine had created and started the container, and `cpu_s` and
    `page_faults`, what the container's processes had used by then (from its cgroup); load from
    other jobs on a shared machine disturbs those far less than the wall time. The runs go round the cases in
    turn, so a burst of such load hits every image alike."""
    times: dict[str, list[dict[str, float]]] = {label: [] for label in cases}
    for i in range(runs):
        for label, (image_id, env) in cases.items():
            t0 = time.monotonic()
            container, url = start(client, image_id, f"{prefix}-cold-{re.sub(r'[^a-z0-9.-]', '-', label)}-{i}", env)
            engine = time.monotonic() - t0
            try:
                first_prediction(url, container)
                total = time.monotonic() - t0
                stats = container.stats(stream=False, one_shot=True)
                cpu = stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
                faults = stats["memory_stats"].get("stats", {}).get("pgfault", 0)
                times[label].append({"total_s": round(total, 3), "engine_s": round(engine, 3), "cpu_s": round(cpu, 3),
                                     "page_faults": faults})
            finally:
                container.remove(force=True)
    return times


def memory_mb(container: Any) -> float:
    """Resident memory of the container's processes: cgroup usage minus the reclaimable file cache."""
    stats = container.stats(stream=False)["memory_stats"]
    inner = stats.get("stats", {})
    cache = inner.get("total_inactive_file", inner.get("inactive_file", 0))
    return (stats.get("usage", 0) - cache) / 2**20


class MemorySampler(threading.Thread):
    def __init__(self, container: Any, every: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.container, self.every = container, every
        self.samples: list[tuple[float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        start = time.monotonic()
        while not self._halt.is_set():
            self.samples.append((round(time.monotonic() - start, 1), round(memory_mb(self.container), 1)))
            self._halt.wait(self.every)

    def stop(self) -> list[tuple[float, float]]:
        self._halt.set()
        self.join()
        return self.samples


def wrk(url: str, body: str, seconds: int, connections: int, tmp: Path) -> dict[str, Any]:
    script = tmp / "post.lua"
    script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                      f"wrk.body = [==[{body}]==]\n")
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "60s", "--latency",
         "-s", str(script), f"{url}/predict"],
        capture_output=True, text=True, check=True,
    ).stdout

    def latency(pct: str) -> float:
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": latency("50"), "p99_ms": latency("99"),
        "requests": int(total.group(1)) if total else 0,
        "errors": (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0),
        "connections": connections, "seconds": seconds,
    }


def measure(client: Any, label: str, info: dict[str, Any], env: dict[str, str], quick: bool, tmp: Path,
            prefix: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    container, url = start(client, info["id"], f"{prefix}-{label}", env)
    try:
        first_prediction(url, container)
        time.sleep(2)
        result["idle_mb"] = round(memory_mb(container), 1)
        seconds = 5 if quick else 20
        for name, body, conns in (("one", json.dumps(RECORD), 32), ("batch100", json.dumps([RECORD] * 100), 4)):
            print(f"{label}: wrk {name} {seconds}s x {conns} connections...", file=sys.stderr)
            sampler = MemorySampler(container)
            sampler.start()
            result[name] = wrk(url, body, seconds, conns, tmp)
            samples = sampler.stop()
            result[name]["peak_mb"] = max(mb for _, mb in samples)
    finally:
        container.remove(force=True)
    return result


def two_workers(client: Any, info: dict[str, Any], seconds: int, tmp: Path, prefix: str) -> dict[str, Any]:
    """Idle and peak memory of ours with two worker processes (a 512 MB dyno's usual setting)."""
    container, url = start(client, info["id"], f"{prefix}-two", {"WEB_CONCURRENCY": "2"})
    try:
        first_prediction(url, container)
        time.sleep(2)
        idle = round(memory_mb(container), 1)
        sampler = MemorySampler(container)
        sampler.start()
        run = wrk(url, json.dumps(RECORD), seconds, 32, tmp)
        samples = sampler.stop()
    finally:
        container.remove(force=True)
    return {**run, "idle_mb": idle, "peak_mb": max(mb for _, mb in samples)}


def soak(client: Any, info: dict[str, Any], env: dict[str, str], seconds: int, tmp: Path,
         prefix: str) -> dict[str, Any]:
    container, url = start(client, info["id"], f"{prefix}-soak", env)
    try:
        first_prediction(url, container)
        sampler = MemorySampler(container, every=2.0)
        sampler.start()
        run = wrk(url, json.dumps(RECORD), seconds, 64, tmp)
        samples = sampler.stop()
    finally:
        container.remove(force=True)
    loaded = [mb for t, mb in samples if t >= 10]  # after warm-up
    return {**run, "memory_samples": samples, "memory_first_mb": loaded[0] if loaded else None,
            "memory_last_mb": loaded[-1] if loaded else None, "memory_max_mb": max(loaded) if loaded else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs to try the script")
    parser.add_argument("--workers", type=int, default=1,
                        help="WEB_CONCURRENCY for ours in the speed runs (default 1, the 1-CPU optimum)")
    parser.add_argument("--cold-runs", type=int, default=7, help="cold starts per image (default 7)")
    parser.add_argument("--prefix", default="serve-bench", help="name prefix of the images and containers")
    parser.add_argument("--also", action="append", default=[], metavar="IMAGE",
                        help="another image of the app to include in the cold starts (e.g. one built from main)")
    parser.add_argument("--full-base", default=FULL_STAND_IN,
                        help=f"name of the python:3.11 stand-in, built if missing (default {FULL_STAND_IN})")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("error: wrk not found; install it with `apt-get install wrk`", file=sys.stderr)
        return 2
    client = image.connect(timeout=900)
    images = build_images(client, args.prefix, args.full_base)
    ours_env = {"WEB_CONCURRENCY": str(args.workers)}
    results: dict[str, Any] = {
        "limits": "--cpus 1 --memory 512m", "ours_web_concurrency": args.workers,
        "images": {k: {"size_mb": round(v["size"] / 1e6, 1), "base": v["base"],
                       "layers": [(c, round(s / 1e6, 1)) for c, s in v["layers"]]} for k, v in images.items()},
    }
    print("cold starts, interleaved...", file=sys.stderr)
    cases = {"naive": (images["naive"]["id"], {}), "naive-slim": (images["naive-slim"]["id"], {}),
             "ours": (images["ours"]["id"], ours_env), "ours-2": (images["ours"]["id"], {"WEB_CONCURRENCY": "2"}),
             "floor": (images["floor"]["id"], {})}
    for ref in args.also:
        cases[ref] = (client.images.get(ref).id, ours_env)
        cases[f"{ref}, WEB_CONCURRENCY=2"] = (client.images.get(ref).id, {"WEB_CONCURRENCY": "2"})
    results["cold_start"] = cold_starts(client, cases, 2 if args.quick else args.cold_runs, args.prefix)
    with tempfile.TemporaryDirectory() as tmp:
        for label, env in (("naive", {}), ("ours", ours_env)):
            print(f"{label}: speed and memory...", file=sys.stderr)
            results[label] = measure(client, label, images[label], env, args.quick, Path(tmp), args.prefix)
        print("ours: memory with WEB_CONCURRENCY=2...", file=sys.stderr)
        results["ours_two_workers"] = two_workers(client, images["ours"], 10 if args.quick else 20, Path(tmp),
                                                  args.prefix)
        print("ours: 60 s saturation run...", file=sys.stderr)
        results["soak"] = soak(client, images["ours"], ours_env, 15 if args.quick else 60, Path(tmp), args.prefix)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    return 0


def report(r: dict[str, Any]) -> str:
    n, o = r["naive"], r["ours"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    rows = [
        "| metric | naive (Flask dev server, python:3.11) | ours | ours / naive |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (("one", "1 record"), ("batch100", "100 records")):
        rows.append(f"| {label}: requests/s | {n[key]['rps']:.1f} | {o[key]['rps']:.1f} | "
                    f"{ratio(o[key]['rps'], n[key]['rps'])} |")
        rows.append(f"| {label}: records/s | {n[key]['rps'] * (100 if key != 'one' else 1):.0f} | "
                    f"{o[key]['rps'] * (100 if key != 'one' else 1):.0f} | |")
        for p in ("p50", "p99"):
            rows.append(f"| {label}: {p} latency (ms) | {n[key][p + '_ms']:.1f} | {o[key][p + '_ms']:.1f} | "
                        f"{ratio(o[key][p + '_ms'], n[key][p + '_ms'])} |")
        rows.append(f"| {label}: errors | {n[key]['errors']} | {o[key]['errors']} | |")
    cold = {k: [run["total_s"] for run in v] for k, v in r["cold_start"].items()}
    engine = [run["engine_s"] for v in r["cold_start"].values() for run in v]
    med = {k: statistics.median(v) for k, v in cold.items()}
    cpu = {k: statistics.median(run["cpu_s"] for run in v) for k, v in r["cold_start"].items()}
    rows.append(f"| cold start, median of {len(cold['ours'])} (s) | {med['naive']:.2f} | {med['ours']:.2f} | "
                f"{ratio(med['ours'], med['naive'])} |")
    faults = {k: statistics.median(run["page_faults"] for run in v) for k, v in r["cold_start"].items()}
    rows.append(f"| cold start, CPU seconds used until then (median) | {cpu['naive']:.2f} | {cpu['ours']:.2f} | "
                f"{ratio(cpu['ours'], cpu['naive'])} |")
    rows.append(f"| cold start, page faults until then (median) | {faults['naive']:.0f} | {faults['ours']:.0f} | |")
    rows.append(f"| cold start, WEB_CONCURRENCY=2: s, CPU s, page faults | | {med['ours-2']:.2f}, {cpu['ours-2']:.2f}, "
                f"{faults['ours-2']:.0f} | "
                f"{ratio(med['ours-2'], med['naive'])} |")
    rows.append(f"| cold start of the naive app on our slim base: s, CPU s | {med['naive-slim']:.2f}, "
                f"{cpu['naive-slim']:.2f} | | |")
    rows.append(f"| of which `docker run` until the container started, median over all (s) | "
                f"{statistics.median(engine):.2f} | | |")
    rows.append(f"| cold start of the floor (slim base, standard-library server, no model): s, CPU s | | "
                f"{med['floor']:.2f}, {cpu['floor']:.2f} | {ratio(med['floor'], med['naive'])} |")
    for label in [k for k in cold if k not in ("naive", "naive-slim", "ours", "ours-2", "floor")]:
        rows.append(f"| cold start of `{label}`: s, CPU s, page faults | | {med[label]:.2f}, {cpu[label]:.2f}, "
                    f"{faults[label]:.0f} | {ratio(med[label], med['naive'])} |")
    size = {k: v["size_mb"] for k, v in r["images"].items()}
    rows.append(f"| image size (MB) | {size['naive']:.0f} | {size['ours']:.0f} | "
                f"{ratio(size['ours'], size['naive'])} |")
    rows.append(f"| image size, naive app on our slim base (MB) | {size['naive-slim']:.0f} | | "
                f"{ratio(size['ours'], size['naive-slim'])} |")
    rows.append(f"| memory idle (MiB) | {n['idle_mb']:.0f} | {o['idle_mb']:.0f} | |")
    peak_n = max(n["one"]["peak_mb"], n["batch100"]["peak_mb"])
    peak_o = max(o["one"]["peak_mb"], o["batch100"]["peak_mb"])
    rows.append(f"| memory peak under load (MiB) | {peak_n:.0f} | {peak_o:.0f} | |")
    t = r["ours_two_workers"]
    rows.append(f"| ours, WEB_CONCURRENCY=2: memory idle / peak (MiB) | | {t['idle_mb']:.0f} / {t['peak_mb']:.0f} | |")
    rows.append(f"| ours, WEB_CONCURRENCY=2: 1 record requests/s, p99 (ms) | | {t['rps']:.1f}, {t['p99_ms']:.1f} | |")
    s = r["soak"]
    rows += ["", f"Saturation run (ours, {s['seconds']} s, {s['connections']} connections, 1 record): "
             f"{s['requests']} requests, {s['rps']:.1f}/s, {s['errors']} errors, p99 {s['p99_ms']:.1f} ms; "
             f"memory after warm-up {s['memory_first_mb']} -> {s['memory_last_mb']} MiB (max {s['memory_max_mb']})."]
    rows += ["", "Cold starts, every run (s): " + "; ".join(f"{k} {', '.join(f'{x:.2f}' for x in v)}"
                                                          for k, v in cold.items()) + "."]
    for name, info in r["images"].items():
        rows += ["", f"Layers of {name} ({info['size_mb']:.0f} MB, base {info['base']}):", "", "| MB | instruction |",
                 "|---:|---|"]
        rows += [f"| {mb:.1f} | `{cmd.replace('|', '/')}` |" for cmd, mb in info["layers"]]
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
