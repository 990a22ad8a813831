"""From validated records to labels and probabilities, with adaptive micro-batching.

A model call costs about the same for 1 row as for 100 (most of its time is per-call overhead).
So while the model is busy with one call, the records of every request that arrives meanwhile
are queued and handed to the next call together. An idle server answers a lone request at once
(no waiting window); a saturated one answers many requests per model call. One model call at a
time per worker process: on a 1-CPU dyno more would only contend.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from model_server.contract import Column
from model_server.served_model import graph_inputs

Row = dict[str, Any]
Result = tuple[str, dict[str, float]]


@dataclass(frozen=True)
class Predictor:
    """Runs the ONNX graph on records: one [n, 1] input per feature, as the export declared them."""

    session: Any  # onnxruntime.InferenceSession
    columns: tuple[Column, ...]
    classes: tuple[str, ...]

    def feed(self, rows: Sequence[Row]) -> dict[str, np.ndarray]:
        return graph_inputs(self.columns, {col.name: [row.get(col.name) for row in rows] for col in self.columns})

    def __call__(self, rows: Sequence[Row]) -> list[Result]:
        labels, proba = self.session.run(["label", "probabilities"], self.feed(rows))
        classes = self.classes
        return [
            (str(label), {c: float(p) for c, p in zip(classes, probs, strict=True)})
            for label, probs in zip(labels, proba.astype(np.float64), strict=True)
        ]


def self_check(predictor: Predictor) -> str | None:
    """Predict one all-missing record (the imputers fill it); None if the answer is sane, else why not.
    The graph's label must be the class the probabilities favour: with the classes of serving.json in
    another order than the graph's outputs, it would not be."""
    try:
        [(label, probs)] = predictor([{}])
    except Exception as exc:  # any failure here means the model cannot serve
        return f"self-check prediction failed: {type(exc).__name__}: {exc}"
    total = sum(probs.values())
    if not math.isclose(total, 1.0, abs_tol=1e-5):
        return f"self-check probabilities sum to {total:.6f}, not 1"
    if label not in probs or probs[label] < max(probs.values()):
        return f"self-check label {label!r} is not the most probable of {sorted(probs)}"
    return None


class MicroBatcher:
    """Queues requests while the model works and hands them to the next call together."""

    def __init__(
        self, predict: Callable[[Sequence[Row]], list[Result]], max_rows: int,
        on_call: Callable[[], None] | None = None,
    ) -> None:
        self._predict = predict
        self._max_rows = max_rows
        self._on_call = on_call
        self._pending: deque[tuple[list[Row], asyncio.Future[list[Result]]]] = deque()
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, rows: list[Row]) -> list[Result]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Result]] = loop.create_future()
        self._pending.append((rows, future))
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        return await future

    def _next_batch(self) -> list[tuple[list[Row], asyncio.Future[list[Result]]]]:
        batch = [self._pending.popleft()]
        size = len(batch[0][0])
        # A request is never split; a big one goes alone.
        while self._pending and size + len(self._pending[0][0]) <= self._max_rows:
            item = self._pending.popleft()
            batch.append(item)
            size += len(item[0])
        return batch

    async def _drain(self) -> None:
        while self._pending:
            # Requests whose client went away are dropped before they cost a model call.
            batch = [item for item in self._next_batch() if not item[1].done()]
            if not batch:
                continue
            rows = [row for item_rows, _ in batch for row in item_rows]
            if self._on_call:
                self._on_call()
            try:
                # In a thread, so the event loop keeps reading requests (the next batch) meanwhile.
                results = await asyncio.to_thread(self._predict, rows)
            except Exception as exc:  # handed to each waiting request, which reports a 500
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            start = 0
            for item_rows, future in batch:
                if not future.done():
                    future.set_result(results[start : start + len(item_rows)])
                start += len(item_rows)
