"""The watch window's judgement: figures read from the live app + thresholds -> a verdict. Pure.

The I/O (scraping /metrics, querying Prometheus, sleeping, rolling back) lives in `pipeline.deploy.watch`
and hands this module plain numbers, so every decision can be tested with generated inputs.

Two ways in, one judgement:
- `Scrape`: the cumulative counters of one read of the app's /metrics. `window(first, latest)` turns two
  of them into the figures of the window between them (deltas, p99 by the same interpolation as
  PromQL's `histogram_quantile`).
- Prometheus answers those window figures itself (`rate(...[window])`), so its source builds a `Window`.
`judge(window, thresholds)` then says which signals breached (model_ready 0 always does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.gates.verdict import Finding, Verdict
from pipeline.params import WatchParams

INF = math.inf


def _finite(name: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} is {value!r}; a counter is a finite number >= 0")


@dataclass(frozen=True)
class Scrape:
    """One read of the app's /metrics, reduced to what the watch judges (all counters cumulative).

    `buckets` are the latency histogram's cumulative (upper bound, count) pairs, ascending, +Inf last.
    Drift gauges are as the app exports them now (they describe its own sliding window already).
    """

    requests: float
    errors: float
    buckets: tuple[tuple[float, float], ...] = ()
    drift_psi: Mapping[str, float] = field(default_factory=dict)
    prediction_shift: float | None = None
    drift_records: float | None = None
    ready: float | None = None  # model_ready (1/0); None: not exported

    def __post_init__(self) -> None:
        _finite("the request count", self.requests)
        _finite("the error count", self.errors)
        if self.errors > self.requests:
            raise ValueError(f"{self.errors:g} errors out of {self.requests:g} requests")
        for le, count in self.buckets:
            _finite(f"the latency bucket le={le}", count)
        if self.buckets and self.buckets[-1][0] != INF:
            raise ValueError("the latency histogram has no +Inf bucket")
        if self.drift_records is not None:
            _finite("model_drift_window_records", self.drift_records)


@dataclass(frozen=True)
class Window:
    """The figures of the watch window so far: what `judge` compares with the thresholds.

    A drift gauge may be NaN while the app's own window is too small to measure (it is then not judged,
    as long as the record count says the window is short); None means the app does not export it.
    """

    requests: float
    errors: float
    p99_seconds: float | None = None
    drift_psi: Mapping[str, float] = field(default_factory=dict)
    prediction_shift: float | None = None
    drift_records: float | None = None
    ready: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None

    def figures(self) -> dict[str, Any]:
        """The window as plain JSON-able numbers (NaN, which JSON has not, as None)."""
        worst = worst_feature(self.drift_psi)

        def num(value: float | None, digits: int = 4) -> float | None:
            return round(value, digits) if value is not None and math.isfinite(value) else None

        return {
            "requests": int(self.requests),
            "errors": int(self.errors),
            "error_rate": num(self.error_rate),
            "p99_seconds": num(self.p99_seconds),
            "drift_psi_max": num(worst[1]) if worst else None,
            "drift_feature": worst[0] if worst else None,
            "prediction_shift_psi": num(self.prediction_shift),
            "drift_records": int(self.drift_records) if self.drift_records is not None else None,
            "model_ready": num(self.ready),
        }


def worst_feature(psi: Mapping[str, float]) -> tuple[str, float] | None:
    measured = [(name, value) for name, value in psi.items() if math.isfinite(value)]
    return max(measured, key=lambda item: (item[1], item[0])) if measured else None


def quantile(q: float, buckets: tuple[tuple[float, float], ...]) -> float | None:
    """`histogram_quantile(q, ...)` on cumulative (le, count) buckets: linear inside the bucket that holds
    the q-th observation; in the +Inf bucket, the highest finite bound (as Prometheus answers)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if le == INF:
                return lower_bound
            if count == lower_count:
                return le
            return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = le, count
    return lower_bound


def window(first: Scrape, latest: Scrape) -> Window:
    """The window between two reads. A counter that went down means the process restarted (a dyno
    crashed and came back): its counts since the restart are the window's, as Prometheus' rate() reads it."""
    reset = latest.requests < first.requests or latest.errors < first.errors
    base = Scrape(0.0, 0.0) if reset else first
    start = dict(base.buckets)
    buckets = tuple((le, max(0.0, count - start.get(le, 0.0))) for le, count in latest.buckets)
    return Window(
        requests=latest.requests - base.requests,
        errors=latest.errors - base.errors,
        p99_seconds=quantile(0.99, buckets),
        drift_psi=latest.drift_psi,
        prediction_shift=latest.prediction_shift,
        drift_records=latest.drift_records,
        ready=latest.ready,
    )


def _breach(signal: str, value: float, threshold: float, words: str, where: str = "") -> Finding:
    return Finding(
        rule=signal,
        message=f"{words} {value:.4g} > max {threshold:g}",
        where=where,
        detail={"signal": signal, "value": value, "threshold": threshold},
    )


def judge(observed: Window, thresholds: WatchParams) -> Verdict:
    """Which signals are over their thresholds. Signals without enough evidence are not judged:
    error rate and p99 below `min_requests`, drift below `min_drift_records` (or not exported)."""
    findings: list[Finding] = []
    if observed.ready is not None and not observed.ready >= 1:  # NaN counts as not ready
        # The app says its model is not serving (failed to load, tampered): no traffic is needed to know.
        findings.append(Finding(rule="model_ready", message=f"model_ready {observed.ready:g} < 1 (the model is not "
                                "serving)", detail={"signal": "model_ready", "value": observed.ready, "threshold": 1}))
    enough_traffic = observed.requests >= thresholds.min_requests
    rate = observed.error_rate
    if enough_traffic and rate is not None and rate > thresholds.max_error_rate:
        findings.append(_breach("error_rate", rate, thresholds.max_error_rate,
                                f"error rate ({observed.errors:.0f} of {observed.requests:.0f} answers 5xx)"))
    p99 = observed.p99_seconds
    if enough_traffic and p99 is not None and p99 > thresholds.max_p99_latency_seconds:
        findings.append(_breach("p99_latency", p99, thresholds.max_p99_latency_seconds, "p99 latency (s)"))
    drift_counts = observed.drift_records is not None and observed.drift_records >= thresholds.min_drift_records
    if drift_counts:
        nan = sorted(name for name, value in observed.drift_psi.items() if math.isnan(value))
        if nan:
            # A full window that still cannot be measured is a broken monitor, not a clean one.
            findings.append(Finding(rule="drift_psi", where=nan[0], detail={"signal": "drift_psi"},
                                    message=f"drift PSI of {nan[0]} is NaN over {observed.drift_records:.0f} records"))
        worst = worst_feature(observed.drift_psi)
        if worst and worst[1] > thresholds.max_drift_psi:
            findings.append(_breach("drift_psi", worst[1], thresholds.max_drift_psi,
                                    f"drift PSI of {worst[0]}", where=worst[0]))
        shift = observed.prediction_shift
        if shift is not None and math.isfinite(shift) and shift > thresholds.max_prediction_shift_psi:
            findings.append(_breach("prediction_shift_psi", shift, thresholds.max_prediction_shift_psi,
                                    "prediction shift PSI"))
    return Verdict(gate="watch", passed=not findings, findings=tuple(findings), summary=observed.figures())


def reason(verdict: Verdict) -> str:
    """One line: the first breached signal, its value and its threshold (and how many others)."""
    if verdict.passed:
        return "no threshold breached"
    first = verdict.findings[0]
    more = len(verdict.findings) - 1
    return first.message + (f" (+{more} more: {', '.join(f.rule for f in verdict.findings[1:])})" if more else "")
