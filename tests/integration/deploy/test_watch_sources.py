"""Integration: the watch window's sources against real HTTP servers on loopback.

The app side is the serving app's own `Metrics` exposition (prometheus_client), so the parser reads what the
app really writes; the bad answers (garbage, NaN, a huge body, a 503 burst, a dead server) come from a small
stdlib server. The Prometheus side's answers follow its HTTP API's JSON; a real Prometheus is in tests/e2e.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from model_server.metrics import Metrics
from pipeline.deploy.watch import (
    MAX_METRICS_BYTES,
    AppMetrics,
    PrometheusMetrics,
    WatchBlind,
    public,
    watch,
)
from pipeline.errors import ConfigError
from pipeline.params import WatchParams

pytestmark = pytest.mark.integration

Answer = tuple[int, bytes]
AUTHORIZATION: list[str | None] = []  # the Authorization header of every request the test servers saw


@pytest.fixture
def server() -> Iterator[Callable[[Callable[[str], Answer]], str]]:
    """server(answer) -> base URL; answer(path_and_query) -> (status, body) for every GET."""
    started: list[ThreadingHTTPServer] = []

    def start(answer: Callable[[str], Answer]) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                AUTHORIZATION.append(self.headers.get("Authorization"))
                status, body = answer(self.path)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


FAST = WatchParams(scrape_interval_seconds=0.05, min_requests=10, max_error_rate=0.1)


def test_app_metrics_rates_come_from_deltas_of_the_apps_own_exposition(server):
    metrics = Metrics()
    for _ in range(500):  # traffic before the window: must not count
        metrics.observe("/predict", "POST", 500, 0.002)
    url = server(lambda path: (200, metrics.exposition()))
    source = AppMetrics(url, "/predict")
    source.start()
    for i in range(40):
        metrics.observe("/predict", "POST", 500 if i < 2 else 200, 0.003)
    for _ in range(100):
        metrics.observe("/metrics", "GET", 200, 0.001)  # other routes do not dilute the rate
    got = source.read()
    assert (got.requests, got.errors) == (40, 2)
    assert got.p99_seconds is not None and 0.0025 <= got.p99_seconds <= 0.005


def test_a_breach_stops_the_window_early_and_names_signal_value_threshold(server):
    metrics = Metrics()
    url = server(lambda path: (200, metrics.exposition()))
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        for _ in range(20):
            metrics.observe("/predict", "POST", 503, 0.01)

    result = watch(AppMetrics(url, "/predict"), FAST, seconds=60, sleep=sleep)
    assert result.breached and result.reads == 1 and len(sleeps) == 1
    assert result.verdict.findings[0].message == "error rate (20 of 20 answers 5xx) 1 > max 0.1"
    assert result.to_dict(60)["breaches"][0]["threshold"] == 0.1


def test_a_clean_window_runs_to_its_end_and_keeps_the_peak(server):
    metrics = Metrics()
    url = server(lambda path: (200, metrics.exposition()))

    def sleep(seconds: float) -> None:
        for _ in range(30):
            metrics.observe("/predict", "POST", 200, 0.004)
        time.sleep(seconds)

    result = watch(AppMetrics(url, "/predict"), FAST, seconds=0.3, sleep=sleep)
    assert not result.breached and result.reads >= 2
    record = result.to_dict(0.3)
    assert record["verdict"] == "clean" and record["figures"]["requests"] >= 60
    assert record["figures"]["error_rate"] == 0 and record["peak"]["p99_seconds"] <= 0.005


@pytest.mark.parametrize(
    "body, words",
    [
        (b"<html>Application error</html>", "not Prometheus text"),
        (b"garbage text here", "not Prometheus text"),
        (b"# TYPE up gauge\nup 1\n", "no http_requests_total"),
        (b'http_requests_total{route="/predict",method="POST",status="200"} NaN\n', "request count is nan"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"x" * (MAX_METRICS_BYTES + 1), f"more than {MAX_METRICS_BYTES} bytes"),
    ],
)
def test_bad_scrapes_are_one_line_errors(server, body, words):
    url = server(lambda path: (200, body))
    with pytest.raises(WatchBlind) as err:
        AppMetrics(url, "/predict").start()
    assert words in str(err.value) and "\n" not in str(err.value)
    assert err.value.exit_code == 4


def test_a_503_burst_is_retried_and_a_dead_app_is_blind(server):
    metrics = Metrics()
    answers = iter([(503, b"H10"), (503, b"H10")])
    url = server(lambda path: next(answers, (200, metrics.exposition())))
    AppMetrics(url, "/predict").start()  # two 503s, then the answer: within the 3 attempts
    with pytest.raises(WatchBlind, match=r"127\.0\.0\.1:1/metrics is unreachable .* after 3 attempts"):
        AppMetrics("http://127.0.0.1:1", "/predict").start()


def prometheus_answers(values: dict[str, object]) -> Callable[[str], Answer]:
    """A Prometheus HTTP API stand-in answering each query by the first key found in it."""
    from urllib.parse import parse_qs, urlsplit

    def answer(path: str) -> Answer:
        query = parse_qs(urlsplit(path).query).get("query", [""])[0]
        for key, value in values.items():
            if key in query:
                result = value if isinstance(value, list) else [{"metric": {}, "value": [0, str(value)]}]
                return 200, json.dumps({"status": "success", "data": {"resultType": "vector",
                                                                      "result": result}}).encode()
        return 200, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()

    return answer


def test_prometheus_figures_come_from_promql_over_the_window(server):
    seen: list[str] = []
    answer = prometheus_answers({
        'status=~"5.."': 3, "increase(http_requests_total": 60, "histogram_quantile": 0.02,
        "model_drift_psi": [{"metric": {"feature": "island"}, "value": [0, "0.9"]},
                            {"metric": {"feature": "sex"}, "value": [0, "0.1"]}],
        "model_prediction_shift_psi": 0.05, "model_drift_window_records": 150, "vector(1)": 1,
    })
    url = server(lambda path: (seen.append(path), answer(path))[1])
    source = PrometheusMetrics(url, "penguins", "/predict")
    source.preflight()
    source.start()
    got = source.read()
    assert (got.requests, got.errors, got.p99_seconds) == (60, 3, 0.02)
    assert dict(got.drift_psi) == {"island": 0.9, "sex": 0.1} and got.drift_records == 150
    assert any("job%3D%22penguins%22" in p for p in seen)


def test_a_prometheus_that_cannot_be_queried_is_refused_before_the_deploy(server):
    url = server(lambda path: (400, b'{"status":"error","errorType":"bad_data","error":"parse error"}'))
    with pytest.raises(ConfigError, match=r"--prometheus-url: .*the query failed \(parse error\)"):
        PrometheusMetrics(url, "penguins", "/predict").preflight()
    with pytest.raises(ConfigError, match="unreachable"):
        PrometheusMetrics("http://127.0.0.1:1", "penguins", "/predict").preflight()


@pytest.mark.parametrize(
    "body, words",
    [
        (b"not json", "not JSON"),
        (b'{"status":"success","data":{"resultType":"matrix","result":[]}}', "expected an instant vector"),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"value":[0]}]}}', "malformed sample"),
        (b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[0,"NaN"]}]}}',
         "requests over the window is nan"),
    ],
)
def test_bad_prometheus_answers_mid_window_are_blind(server, body, words):
    url = server(lambda path: (200, body))
    source = PrometheusMetrics(url, "penguins", "/predict")
    source.start()
    with pytest.raises(WatchBlind, match=words):
        source.read()


def test_credentials_in_a_url_never_reach_descriptions():
    source = PrometheusMetrics("https://user:s3cret@prom.example.com:9090/", "penguins", "/predict")
    assert "s3cret" not in source.description and "user" not in source.description
    assert public("https://user:s3cret@prom.example.com:9090/x?token=abc") == "https://prom.example.com:9090/x"



def test_a_protected_metrics_page_is_read_with_the_token_which_never_shows(server):
    metrics = Metrics()

    def answer(path: str) -> Answer:
        return (200, metrics.exposition()) if AUTHORIZATION[-1] == "Bearer t0ken-123" else (401, b"no")

    url = server(answer)
    AppMetrics(url, "/predict", token=SecretStr("t0ken-123")).start()
    source = AppMetrics(url, "/predict", token=SecretStr("wrong"))
    assert "wrong" not in repr(source.http.auth) and "wrong" not in source.description
    with pytest.raises(WatchBlind, match="answered 401"):
        source.start()
