"""Prometheus metrics of one app instance (its own registry, so tests and workers never collide).

With several worker processes (WEB_CONCURRENCY > 1) `pipeline serve` sets PROMETHEUS_MULTIPROC_DIR
before the workers start; each then writes its samples there and /metrics adds them all up.

The model's gauges carry `model_hash` (the trained model's SHA-256) and `release` (HEROKU_RELEASE_VERSION), so a
dashboard or a rollback can tell two releases apart. How each gauge merges across workers (`multiprocess_mode`):
- model_ready is set once, before the workers are forked, and is the same for all: `max`;
- the drift gauges come from each worker's own window (each sees its share of the traffic): `livemostrecent`,
  the value of the worker that refreshed last. `max` would report the worst of W noisy estimates, raising the
  false-alarm rate with every worker; a sum or mean of PSIs measures nothing. `live`: a dead worker's values
  are dropped (the server marks it dead), and its window with it. model_drift_window_records uses the same mode:
  the count of the worker that refreshed last. A worker forked anew reports its small count at once but no drift
  until its own window reaches the minimum, so for that while the count understates the window the drift values
  come from: a rule requiring a minimum count errs on the side of waiting.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

# From 1 ms (a cached single record) to 10 s (far past Heroku's 30 s router budget share).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests", "HTTP requests by route, method and status", ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds", "Time from request to response, by route, method and status",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.predictions = Counter(
            "predictions", "Predicted records by class", ["label"], registry=self.registry
        )
        self.model_calls = Counter(
            "model_calls", "Calls to the model (one call may answer several requests)", registry=self.registry
        )
        self.load_seconds = Gauge(
            "model_load_seconds", "Time to verify and load the model at startup", registry=self.registry,
            multiprocess_mode="max",
        )
        model = ["model_hash", "release"]
        per_feature = ["feature", *model]
        self.ready = Gauge("model_ready", "1 when the model is loaded, verified and serving, else 0", model,
                           registry=self.registry, multiprocess_mode="max")
        self.drift_psi = Gauge(
            "model_drift_psi", "PSI of the feature's distribution in the drift window against the reference profile",
            per_feature, registry=self.registry, multiprocess_mode="livemostrecent",
        )
        self.drift_js = Gauge(
            "model_drift_js", "Jensen-Shannon distance (base 2, 0..1) of the feature in the window vs the reference",
            per_feature, registry=self.registry, multiprocess_mode="livemostrecent",
        )
        self.prediction_shift = Gauge(
            "model_prediction_shift_psi",
            "PSI of the predicted classes in the window against the model's predictions on the test split",
            model, registry=self.registry, multiprocess_mode="livemostrecent",
        )
        self.missing_rate = Gauge(
            "model_missing_rate", "Share of the window's records with the feature missing (null or absent)",
            per_feature, registry=self.registry, multiprocess_mode="livemostrecent",
        )
        self.window_records = Gauge(
            "model_drift_window_records", "Records in the drift window; drift gauges exist once it holds "
            "DRIFT_MIN_RECORDS", model, registry=self.registry, multiprocess_mode="livemostrecent",
        )
        self.out_of_contract = Counter(
            "model_out_of_contract", "Values refused (422) for breaking the data contract, by feature",
            per_feature, registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        code = str(status)
        self.requests.labels(route, method, code).inc()
        self.latency.labels(route, method, code).observe(seconds)

    def exposition(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            merged = CollectorRegistry()
            MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
