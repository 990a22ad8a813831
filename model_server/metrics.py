"""Prometheus metrics of one app instance (its own registry, so tests and workers never collide).

With several worker processes (WEB_CONCURRENCY > 1) `pipeline serve` sets PROMETHEUS_MULTIPROC_DIR
before the workers start; each then writes its samples there and /metrics adds them all up.
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
