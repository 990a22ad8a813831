"""The watch window's I/O: read the live app's metrics every interval, judge them, stop at the first breach.

Two sources, one interface (`start()` marks the window's beginning, `read()` answers its figures so far):

- `AppMetrics`: the app's own /metrics through its web URL; rates come from the deltas between the read
  at the start of the window and the latest one. On Heroku the router sends each scrape to one dyno, so
  this suits one web dyno; with more, point a Prometheus at every dyno and use `PrometheusMetrics`.
- `PrometheusMetrics`: PromQL over the HTTP API (`/api/v1/query`), ranges spanning exactly the window so
  far, series selected by `job` (the scrape job of the app's dynos).

Every read is bounded (size, time) and retried under the project's one retry policy. An answer that
cannot be read (refused, garbage, NaN counters, over the size limit) after its retries is a `WatchBlind`:
the deploy cannot be shown healthy, so the caller rolls back (see `Deployer.watch`) and exits 4.
The judgement itself is `pipeline.gates.watch`, pure.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import requests
import requests.auth
import tenacity
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from model_server.safe_load import ParseError, load_json
from pipeline.errors import ConfigError, ExternalError
from pipeline.gates.verdict import Verdict
from pipeline.gates.watch import Scrape, Window, judge, window
from pipeline.params import WatchParams
from pipeline.retry import RETRY_STATUS, Backoff, retrying

log = logging.getLogger("pipeline.deploy")

MAX_METRICS_BYTES = 4 << 20  # a /metrics page of a model server is tens of KiB; 4 MiB is a broken one
MAX_QUERY_BYTES = 1 << 20
_BACKOFF = Backoff(max_attempts=3, base=0.5, cap=4.0)


class WatchBlind(ExternalError):
    """The metrics could not be read: the window cannot say the release is healthy."""


class _Unreadable(Exception):
    """One failed read, worth another try (connection, 5xx)."""


def public(url: str) -> str:
    """A URL fit for logs and records: credentials in it (user:password@) removed."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _bounded_get(http: requests.Session, url: str, what: str, limit: int, timeout: float,
                 params: Mapping[str, str] | None = None) -> bytes:
    """GET with a size limit enforced while reading (a huge body is refused, never held)."""
    try:
        with http.get(url, params=params, timeout=timeout, stream=True) as resp:
            if resp.status_code in RETRY_STATUS:
                raise _Unreadable(f"{what} answered {resp.status_code}")
            body = bytearray()
            for chunk in resp.iter_content(64 << 10):
                body += chunk
                if len(body) > limit:
                    raise WatchBlind(f"{what} answered more than {limit} bytes; that is not a metrics answer")
            if resp.status_code != 200 and resp.status_code != 400:  # 400: PromQL's own error, read below
                raise WatchBlind(f"{what} answered {resp.status_code}")
            return bytes(body)
    except requests.RequestException as exc:
        raise _Unreadable(f"{what} is unreachable ({type(exc).__name__})") from None


def _retried(read: Callable[[], bytes]) -> bytes:
    try:
        body: bytes = retrying(_BACKOFF, retry=tenacity.retry_if_exception_type(_Unreadable), log=log)(read)
    except _Unreadable as exc:
        raise WatchBlind(f"{exc} after {_BACKOFF.max_attempts} attempts") from None
    return body


class MetricsSource(Protocol):
    @property
    def description(self) -> str: ...

    def preflight(self) -> None: ...

    def start(self) -> None: ...

    def read(self) -> Window: ...


def parse_scrape(text: str, route: str) -> Scrape:
    """The watched figures from a Prometheus text exposition (prometheus_client's own parser)."""
    requests_total = errors = 0.0
    buckets: dict[float, float] = {}
    psi: dict[str, float] = {}
    shift: float | None = None
    records: float | None = None
    ready: float | None = None
    seen: set[str] = set()
    try:
        for family in text_string_to_metric_families(text):
            seen.add(family.name)
            for sample in family.samples:
                name, labels, value = sample.name, sample.labels, float(sample.value)
                if name == "http_requests_total" and labels.get("route") == route:
                    requests_total += value
                    errors += value if labels.get("status", "").startswith("5") else 0.0
                elif name == "http_request_duration_seconds_bucket" and labels.get("route") == route:
                    le = float(labels["le"])
                    buckets[le] = buckets.get(le, 0.0) + value
                elif name == "model_drift_psi" and "feature" in labels:
                    psi[labels["feature"]] = value
                elif name == "model_prediction_shift_psi":
                    shift = value
                elif name == "model_drift_window_records":
                    records = value
                elif name == "model_ready":
                    ready = value if ready is None else min(ready, value)
    except (ValueError, KeyError, IndexError) as exc:
        raise WatchBlind(f"the answer is not Prometheus text ({str(exc)[:80]})") from None
    if not seen & {"http_requests", "http_requests_total"}:
        raise WatchBlind("the answer has no http_requests_total: is this the serving app's /metrics?")
    try:
        return Scrape(requests=requests_total, errors=errors, buckets=tuple(sorted(buckets.items())),
                      drift_psi=psi, prediction_shift=shift, drift_records=records, ready=ready)
    except ValueError as exc:
        raise WatchBlind(f"impossible figures: {exc}") from None


class _Bearer(requests.auth.AuthBase):
    """The token is added per request and never shown: not in a repr, not in the session's headers."""

    def __init__(self, token: SecretStr) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "_Bearer(**********)"


class AppMetrics:
    """The app's /metrics, read through its web URL; rates from deltas against the read at the start."""

    def __init__(self, web_url: str, route: str, timeout: float = 10.0, token: SecretStr | None = None) -> None:
        self.url = web_url.rstrip("/") + "/metrics"
        self.route, self.timeout = route, timeout
        self.description = public(self.url)
        self.http = requests.Session()
        if token is not None:  # the app's METRICS_TOKEN: /metrics then wants it as a Bearer token
            self.http.auth = _Bearer(token)
        self._first: Scrape | None = None

    def preflight(self) -> None:
        return None  # the app is the one being deployed: it has no /metrics before it is released

    def _scrape(self) -> Scrape:
        what = public(self.url)
        body = _retried(lambda: _bounded_get(self.http, self.url, what, MAX_METRICS_BYTES, self.timeout))
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WatchBlind(f"{what}: the answer is not UTF-8 text") from None
        try:
            return parse_scrape(text, self.route)
        except WatchBlind as exc:
            raise WatchBlind(f"{what}: {exc}") from None

    def start(self) -> None:
        self._first = self._scrape()

    def read(self) -> Window:
        latest = self._scrape()
        first = self._first or latest
        return window(first, latest)


@dataclass
class PrometheusMetrics:
    """PromQL through Prometheus' HTTP API, over ranges that span the window so far."""

    url: str
    job: str
    route: str
    timeout: float = 10.0
    clock: Callable[[], float] = time.time
    http: requests.Session = field(default_factory=requests.Session)
    _started: float | None = None

    @property
    def description(self) -> str:
        return f"Prometheus {public(self.url)} (job={self.job})"

    def _query(self, promql: str) -> list[dict[str, Any]]:
        what = f"Prometheus {public(self.url)}"
        endpoint = self.url.rstrip("/") + "/api/v1/query"
        body = _retried(lambda: _bounded_get(self.http, endpoint, what, MAX_QUERY_BYTES, self.timeout,
                                             params={"query": promql}))
        try:
            answer = load_json(body, max_bytes=MAX_QUERY_BYTES)
        except ParseError as exc:
            raise WatchBlind(f"{what}: the answer is not JSON ({exc})") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error") if isinstance(answer, dict) else None
            raise WatchBlind(f"{what}: the query failed ({str(error or answer)[:120]}): {promql}")
        data = answer.get("data")
        if not isinstance(data, dict) or data.get("resultType") != "vector" or not isinstance(data.get("result"), list):
            raise WatchBlind(f"{what}: expected an instant vector, got {str(data)[:80]}")
        return list(data["result"])

    def _values(self, promql: str, label: str | None = None) -> dict[str, float]:
        values: dict[str, float] = {}
        for item in self._query(promql):
            try:
                key = (item.get("metric") or {}).get(label, "") if label else ""
                values[key] = float(item["value"][1])
            except (KeyError, IndexError, TypeError, ValueError):
                raise WatchBlind(f"Prometheus {public(self.url)}: a malformed sample {str(item)[:80]}") from None
        return values

    def _one(self, promql: str) -> float | None:
        values = self._values(promql)
        return values.get("") if values else None

    def preflight(self) -> None:
        """Before anything is released: a Prometheus we cannot query would roll back every deploy."""
        try:
            self._query("vector(1)")
        except WatchBlind as exc:
            raise ConfigError(f"--prometheus-url: {exc}; fix the URL (or leave it out to read the app's "
                              "/metrics) before deploying") from None

    def start(self) -> None:
        self._started = self.clock()

    def read(self) -> Window:
        started = self._started if self._started is not None else self.clock()
        # A range of at least a few seconds: rate() needs two samples inside it.
        span = f"{max(5, math.ceil(self.clock() - started))}s"
        sel = f'job="{self.job}",route="{self.route}"'
        requests_ = self._one(f"sum(increase(http_requests_total{{{sel}}}[{span}]))") or 0.0
        errors = self._one(f'sum(increase(http_requests_total{{{sel},status=~"5.."}}[{span}]))') or 0.0
        p99 = self._one(
            f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{sel}}}[{span}])))"
        )
        job = f'job="{self.job}"'
        psi = self._values(f"max by (feature) (model_drift_psi{{{job}}})", "feature")
        shift = self._one(f"max(model_prediction_shift_psi{{{job}}})")
        records = self._one(f"min(model_drift_window_records{{{job}}})")
        ready = self._one(f"min(model_ready{{{job}}})")
        for name, value in (("requests", requests_), ("errors", errors)):
            if not math.isfinite(value) or value < 0:
                raise WatchBlind(f"Prometheus {public(self.url)}: {name} over the window is {value}")
        return Window(requests=requests_, errors=min(errors, requests_),
                      p99_seconds=p99 if p99 is not None and math.isfinite(p99) else None,
                      drift_psi=psi, prediction_shift=shift, drift_records=records, ready=ready)


@dataclass
class WatchResult:
    verdict: Verdict
    seconds: float  # how long the window ran
    reads: int
    source: str
    peak: dict[str, Any] = field(default_factory=dict)

    @property
    def breached(self) -> bool:
        return not self.verdict.passed

    def to_dict(self, planned: float) -> dict[str, Any]:
        return {
            "source": self.source,
            "planned_seconds": planned,
            "seconds": round(self.seconds, 1),
            "reads": self.reads,
            "verdict": "clean" if self.verdict.passed else "breach",
            "figures": self.verdict.summary,
            "peak": self.peak,
            "breaches": [f.detail | {"message": f.message} for f in self.verdict.findings],
        }


def _peak(peak: dict[str, Any], figures: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(peak)
    for key in ("error_rate", "p99_seconds", "drift_psi_max", "prediction_shift_psi"):
        value = figures.get(key)
        if value is not None and (out.get(key) is None or value > out[key]):
            out[key] = value
    return out


def watch(source: MetricsSource, thresholds: WatchParams, seconds: float,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> WatchResult:
    """Read the source every `scrape_interval_seconds` for `seconds`; stop at the first breach.

    Raises WatchBlind when the source cannot be read (after retries): the caller decides what that means
    for the release (Deployer.watch rolls back)."""
    started = clock()
    source.start()
    reads, peak = 0, dict[str, Any]()
    verdict = judge(Window(0.0, 0.0), thresholds)
    while True:
        left = seconds - (clock() - started)
        if left <= 0:
            break
        sleep(min(thresholds.scrape_interval_seconds, left))
        verdict = judge(source.read(), thresholds)
        reads += 1
        peak = _peak(peak, verdict.summary)
        log.info("watch %.0f/%.0f s: %s", clock() - started, seconds, verdict.summary)
        if not verdict.passed:
            break
    return WatchResult(verdict, clock() - started, reads, source.description, peak)
