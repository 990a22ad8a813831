from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from model_server.predictor import MicroBatcher, Row


class _SlowEcho:
    """Stands in for a model: answers each row with its 'x', records each call's size."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.calls: list[int] = []
        self.fail_on = fail_on
        self.release = threading.Event()

    def __call__(self, rows: Sequence[Row]) -> list[tuple[str, dict[str, float]]]:
        self.calls.append(len(rows))
        self.release.wait(timeout=5)
        if self.fail_on is not None and any(r["x"] == self.fail_on for r in rows):
            raise RuntimeError("model broke")
        return [(str(r["x"]), {str(r["x"]): 1.0}) for r in rows]


def test_requests_arriving_while_busy_share_one_call() -> None:
    model = _SlowEcho()

    async def scenario() -> list[list[tuple[str, dict[str, float]]]]:
        batcher = MicroBatcher(model, max_rows=100)
        first = asyncio.create_task(batcher.submit([{"x": 0}]))
        await asyncio.sleep(0.05)  # the first call is now running and blocked
        rest = [asyncio.create_task(batcher.submit([{"x": i}, {"x": i + 100}])) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        model.release.set()
        return [await first, *[await t for t in rest]]

    results = asyncio.run(scenario())
    assert model.calls == [1, 10]
    assert [label for label, _ in results[0]] == ["0"]
    assert [[label for label, _ in r] for r in results[1:]] == [[str(i), str(i + 100)] for i in range(1, 6)]


def test_batches_respect_max_rows_without_splitting_requests() -> None:
    model = _SlowEcho()
    model.release.set()

    async def scenario() -> None:
        batcher = MicroBatcher(model, max_rows=4)
        await asyncio.gather(*(batcher.submit([{"x": i}] * 3) for i in range(4)))

    asyncio.run(scenario())
    assert model.calls and all(size == 3 for size in model.calls)


def test_a_failing_call_fails_only_its_requests() -> None:
    model = _SlowEcho(fail_on=1)
    model.release.set()

    async def scenario() -> tuple[object, object]:
        batcher = MicroBatcher(model, max_rows=1)
        bad, good = await asyncio.gather(batcher.submit([{"x": 1}]), batcher.submit([{"x": 2}]),
                                         return_exceptions=True)
        return bad, good

    bad, good = asyncio.run(scenario())
    assert isinstance(bad, RuntimeError)
    assert good == [("2", {"2": 1.0})]


def test_counts_model_calls() -> None:
    calls = []
    model = _SlowEcho()
    model.release.set()

    async def scenario() -> None:
        batcher = MicroBatcher(model, max_rows=10, on_call=lambda: calls.append(1))
        await batcher.submit([{"x": 1}])
        await batcher.submit([{"x": 2}])

    asyncio.run(scenario())
    assert len(calls) == 2


@pytest.mark.parametrize("value", [None, 12.5])
def test_feed_matches_the_graph_inputs_and_answers_like_the_trained_model(model_files, contract, value) -> None:
    import pandas as pd

    from model_server import served_model
    from model_server.predictor import Predictor
    from pipeline import model as model_io

    served = served_model.load(model_files / "model.onnx", model_files / "serving.json")
    predictor = Predictor(served.session, tuple(contract.column(f) for f in served.features), tuple(served.classes))
    record = {"island": "Dream", "bill_depth_mm": value, "sex": None}
    feed = predictor.feed([record])
    assert feed["bill_depth_mm"].dtype == "float64" and feed["bill_depth_mm"].shape == (1, 1)
    assert feed["sex"].tolist() == [[served_model.MISSING_STRING]]
    [(label, probs)] = predictor([record])
    assert list(probs) == served.classes
    # The same record through the trained scikit-learn model, missing values as the prepared data
    # holds them (NaN in the column's dtype), gives the same answer.
    trained = model_io.load(model_files / "model.skops", model_files / "model.json")
    frame = pd.DataFrame({f: pd.Series([record.get(f)], dtype="float64" if contract.column(f).is_numeric else "str")
                          for f in trained.features})
    expected = trained.estimator.predict_proba(frame)[0]
    assert label == trained.estimator.predict(frame)[0]
    assert max(abs(probs[c] - p) for c, p in zip(served.classes, expected, strict=True)) < 1e-5


def test_self_check_refuses_classes_listed_in_another_order_than_the_graph_answers(model_files, contract) -> None:
    from model_server import served_model
    from model_server.predictor import Predictor, self_check

    served = served_model.load(model_files / "model.onnx", model_files / "serving.json")
    columns = tuple(contract.column(f) for f in served.features)
    assert self_check(Predictor(served.session, columns, tuple(served.classes))) is None
    # The same graph, its probability columns named in the wrong order: the label it returns is then
    # not the class with the highest probability, whichever class the all-missing record gets.
    shifted = tuple(served.classes[1:] + served.classes[:1])
    problem = self_check(Predictor(served.session, columns, shifted))
    assert problem is not None and "is not the most probable" in problem
