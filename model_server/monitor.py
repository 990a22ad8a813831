"""The serving app's live-model signals: readiness, drift of the served records, contract breaches, as metrics.

The drift window (model_server/drift.py) takes every record the model answered. Its gauges are refreshed at most
every DRIFT_REFRESH_SECONDS (a scrape every 15 s gains nothing from a refresh per request) and only once the
window holds DRIFT_MIN_RECORDS: with fewer, PSI of a few records is noise (its expected value with no drift at
all is about (bins - 1) / records). Until then the drift series are absent rather than 0 or NaN, so neither an
alert nor a dashboard can read noise as a verdict; model_drift_window_records is always there to say why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prometheus_client import Gauge

from model_server.drift import DriftWindow
from model_server.metrics import Metrics
from model_server.model_meta import DriftReference

log = logging.getLogger("model_server")


class Monitor:
    def __init__(
        self, metrics: Metrics, *, model_hash: str, release: str, ready: bool, features: Sequence[str],
        window: DriftWindow | None = None, min_records: int = 1, refresh_seconds: float = 1.0,
    ) -> None:
        self.metrics = metrics
        self.labels = (model_hash, release)
        self.features = frozenset(features)
        self.window = window
        self.min_records = min_records
        self.refresh_seconds = refresh_seconds
        self._refreshed = -float("inf")
        self._children: dict[tuple[int, str], Gauge] = {}
        metrics.ready.labels(*self.labels).set(1 if ready else 0)
        for feature in features:  # from 0, so rate() and increase() see the first breach
            metrics.out_of_contract.labels(feature, *self.labels)
        if window is not None:
            metrics.window_records.labels(*self.labels).set(0)

    @classmethod
    def build(
        cls, metrics: Metrics, *, model_hash: str, release: str, ready: bool, features: Sequence[str],
        reference: DriftReference | None, enabled: bool, size: int, min_records: int, refresh_seconds: float,
    ) -> Monitor:
        window = None
        if enabled and ready:
            if reference is None:
                log.warning("drift monitoring off: serving.json has no drift reference; re-export the model "
                            "with `dvc repro export`", extra={"fields": {"event": "drift_off"}})
            else:
                window = DriftWindow(reference, features, size)
        return cls(metrics, model_hash=model_hash, release=release, ready=ready, features=features,
                   window=window, min_records=min_records, refresh_seconds=refresh_seconds)

    def observe(self, rows: Sequence[Mapping[str, Any]], labels: Iterable[str]) -> None:
        if self.window is None:
            return
        for row, label in zip(rows, labels, strict=True):
            self.window.add(row, label)
        now = time.monotonic()
        if now - self._refreshed >= self.refresh_seconds:
            self._refreshed = now
            self.refresh()

    def refresh(self) -> None:
        if self.window is None:
            return
        snap = self.window.snapshot()
        m, labels = self.metrics, self.labels
        m.window_records.labels(*labels).set(snap.records)
        if snap.records < self.min_records:
            return
        m.prediction_shift.labels(*labels).set(snap.prediction_psi)
        for f in snap.features:
            self._child(m.missing_rate, f.feature).set(f.missing_rate)
            # A feature missing in every record has no distribution; its series appear with its first value
            # (labels() alone would export a 0).
            if f.psi is not None and f.js is not None:
                self._child(m.drift_psi, f.feature).set(f.psi)
                self._child(m.drift_js, f.feature).set(f.js)

    def _child(self, gauge: Gauge, feature: str) -> Gauge:
        """labels() takes a lock and builds a key on every call: once per series, not on every refresh."""
        key = (id(gauge), feature)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = gauge.labels(feature, *self.labels)
        return child

    def out_of_contract(self, errors: Iterable[Mapping[str, Any]]) -> None:
        """Count each refused value once per feature, from a 422's validation errors. Only the model's features
        become label values: a client's made-up field names cannot add series."""
        seen: set[tuple[Any, ...]] = set()
        for err in errors:
            loc = tuple(err.get("loc", ()))
            # ("body", "record", feature, ...) or ("body", "batch", index, feature, ...) (model_server/schema.py)
            at = {"record": 2, "batch": 3}.get(loc[1]) if len(loc) > 1 and loc[0] == "body" else None
            if at is None or len(loc) <= at or loc[at] not in self.features or loc[: at + 1] in seen:
                continue
            seen.add(loc[: at + 1])
            self.metrics.out_of_contract.labels(loc[at], *self.labels).inc()
