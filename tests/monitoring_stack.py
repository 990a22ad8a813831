"""A real monitoring stack on loopback, for the monitoring tests and the scripts that measure or draw it: the
serving app's own process (`python -m model_server`) and Debian's `prometheus` scraping it with the project's
rules (monitoring/prometheus/rules.yml), each on a free port with its files in a temporary directory."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "monitoring"
RULES = MONITORING / "prometheus" / "rules.yml"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "model-serving.json"
# What Grafana puts for $__rate_interval at a 1 s scrape interval is 4 s; a minute keeps queries simple to read.
RATE_INTERVAL = "1m"


def require(tool: str, tests: str = "the monitoring tests") -> str:
    """The path of Debian's `prometheus` or `promtool`; without it the one policy for missing machinery applies
    (tests/conftest.py: a failure under CI=true, where `make engine` installs it; elsewhere a skip with the fix)."""
    from tests.conftest import engine_unavailable

    path = shutil.which(tool)
    if path is None:
        engine_unavailable(f"{tool} not found on PATH (Debian's prometheus package)", tests)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, seconds: float = 60) -> None:
    """Until `url` answers 200; RuntimeError if `proc` exits first or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} while starting")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:  # refused or slow while starting: try again until the deadline
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready at {url} in {seconds:.0f} s")
        time.sleep(0.2)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def model_server(model_dir: Path, contract: Path, **env: str) -> Iterator[str]:
    """`python -m model_server` on 127.0.0.1 serving `model_dir`; yields its URL once /ready answers 200."""
    port = free_port()
    full = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "MODEL_DIR": str(model_dir),
            "CONTRACT_PATH": str(contract), "PARAMS_PATH": str(ROOT / "params.yaml"),
            "LOG_LEVEL": "warning", **env}
    full.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server makes its own with WEB_CONCURRENCY > 1
    proc = subprocess.Popen([sys.executable, "-m", "model_server"], env=full, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/ready", proc, "the model server")
        yield url
    finally:
        stop_process(proc)


@contextmanager
def prometheus(targets: list[str], rules: Path | None = RULES, interval: str = "1s") -> Iterator[str]:
    """Debian's `prometheus` scraping `targets` (URLs) every `interval`, evaluating `rules` as often; yields its
    URL once ready. Its storage and config live in a temporary directory removed afterwards."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus not found on PATH; run `sudo make engine` (Debian's prometheus package)")
    tmp = Path(tempfile.mkdtemp(prefix="prom-"))
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "scrape_configs": [{"job_name": "model", "static_configs": [
            {"targets": [t.removeprefix("http://") for t in targets]}]}],
    }
    if rules is not None:
        shutil.copy(rules, tmp / "rules.yml")
        config["rule_files"] = [str(tmp / "rules.yml")]
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{url}/-/ready", proc, "prometheus")
        yield url
    finally:
        stop_process(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def query(url: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"query": expr.replace("$__rate_interval", RATE_INTERVAL)}
    if at is not None:
        params["time"] = at
    doc = requests.get(f"{url}/api/v1/query", params=params, timeout=10).json()
    if doc.get("status") != "success":
        raise ValueError(f"{expr}: {doc.get('error')}")
    return list(doc["data"]["result"])


def query_range(url: str, expr: str, start: float, end: float, step: float,
                rate_interval: str = RATE_INTERVAL) -> list[dict[str, Any]]:
    params = {"query": expr.replace("$__rate_interval", rate_interval), "start": start, "end": end, "step": step}
    doc = requests.get(f"{url}/api/v1/query_range", params=params, timeout=30).json()
    if doc.get("status") != "success":
        raise ValueError(f"{expr}: {doc.get('error')}")
    return list(doc["data"]["result"])


# PromQL words that look like metric names: functions are followed by "(", these are not always.
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
             "inf", "nan"}
_LABEL_LISTS = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (selectors, not functions, labels or keywords)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # strings (label values, printf formats)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery windows
    text = _LABEL_LISTS.sub(" ", text)
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end():].lstrip()[:1]
        before = text[:match.start()]
        if following == "(" or name.lower() in _KEYWORDS or re.search(r"[0-9.]$", before):
            continue  # a function, a keyword, or the unit of a number such as 5m
        names.add(name)
    return names


def dashboard_queries(path: Path = DASHBOARD) -> list[tuple[str, str]]:
    """(panel title, expr) for every query of every panel, rows' nested panels included."""
    import json

    doc = json.loads(path.read_text(encoding="utf-8"))
    out = []
    stack = list(doc.get("panels", []))
    while stack:
        panel = stack.pop(0)
        stack.extend(panel.get("panels", []))
        out.extend((panel.get("title", "?"), t["expr"]) for t in panel.get("targets", []) if t.get("expr"))
    return out


def rule_exprs(path: Path = RULES) -> tuple[list[tuple[str, str]], set[str]]:
    """(rule name, expr) of every rule, and the names the recording rules define."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    rules = [r for g in doc["groups"] for r in g["rules"]]
    return ([(r.get("record") or r["alert"], r["expr"]) for r in rules], {r["record"] for r in rules if "record" in r})


def scrape_names(url: str, headers: Mapping[str, str] | None = None) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    text = requests.get(f"{url}/metrics", headers=dict(headers or {}), timeout=10).text
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}
