"""The app over HTTP (in process), with a tiny model trained by the real training code."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from model_server.logs import JsonFormatter, request_id
from pipeline import model as model_io
from tests.servekit import GOOD

pytestmark = pytest.mark.integration


@pytest.fixture
def client(make_app: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(make_app(max_body_bytes=4096, max_batch=20)) as c:
        yield c


def test_health_ready_version(client: TestClient, model_files: Path) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    sha = json.loads((model_files / "model.json").read_text())["sha256"]
    assert client.get("/ready").json() == {"status": "ready", "model_sha256": sha}
    version = client.get("/version").json()
    assert version["model"]["sha256"] == sha
    assert version["model"]["dvc_md5"] == "0123456789abcdef0123456789abcdef"
    served = version["model"]["served_as"]
    assert served["dvc_md5"] == "fedcba9876543210fedcba9876543210" and served["format"] == "onnx"
    assert served["sha256"] == json.loads((model_files / "serving.json").read_text())["sha256"]
    assert version["git_commit"] == "abc123"
    assert version["metrics"] == {"accuracy": 0.5}
    assert version["params"]["train"]["seed"] == 42


def test_predict_one_record_and_a_batch_match_the_model(client: TestClient, model_files: Path) -> None:
    loaded = model_io.load(model_files / "model.skops", model_files / "model.json")
    one = client.post("/predict", json=GOOD)
    assert one.status_code == 200
    [pred] = one.json()["predictions"]
    assert set(pred["probabilities"]) == set(loaded.classes)
    assert abs(sum(pred["probabilities"].values()) - 1) < 1e-9

    batch = [GOOD, {"island": "Dream"}, {**GOOD, "sex": None, "body_mass_g": 6000.0}]
    resp = client.post("/predict", json=batch)
    assert resp.status_code == 200
    labels = [p["label"] for p in resp.json()["predictions"]]
    import pandas as pd

    frame = pd.DataFrame([{f: r.get(f) for f in loaded.features} for r in batch])
    assert labels == [str(x) for x in loaded.estimator.predict(frame)]
    assert labels[0] == pred["label"]


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        ({**GOOD, "island": "Atlantis"}, "island", "Biscoe"),
        ({**GOOD, "flipper_length_mm": 999}, "flipper_length_mm", "less than or equal to 240"),
        ({**GOOD, "body_mass_g": "heavy"}, "body_mass_g", "valid number"),
        ({**GOOD, "colour": "blue"}, "colour", "Extra inputs"),
        ({"sex": "male"}, "island", "Field required"),
        ([GOOD, {**GOOD, "sex": "m"}], "sex", "'female' or 'male'"),
        ([GOOD] * 21, "batch", "at most 20"),
        ([], "batch", "at least 1"),
        ("just a string", "record", "valid dictionary"),
    ],
)
def test_invalid_input_is_422_naming_field_and_problem(
    client: TestClient, payload: Any, field: str, problem: str
) -> None:
    resp = client.post("/predict", json=payload)
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert any(field in map(str, d["loc"]) and problem in d["msg"] for d in detail), detail


BROKEN = [b'{"island": "Dream", "bill_depth_mm": NaN}', b'{"island": ', b"\xff\xfe", b"\xc3(", b""]


@pytest.mark.parametrize("raw", BROKEN)
def test_malformed_json_is_4xx_never_500(client: TestClient, raw: bytes) -> None:
    resp = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code in (400, 422), resp.text


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    big = json.dumps([GOOD] * 40).encode()
    assert len(big) > 4096
    resp = client.post("/predict", content=big, headers={"content-type": "application/json"})
    assert resp.status_code == 413
    assert "4096 bytes" in resp.json()["detail"]


def test_streamed_body_over_the_limit_is_413_without_content_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    resp = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None])
def test_wrong_content_type_is_415(client: TestClient, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    resp = client.post("/predict", content=json.dumps(GOOD).encode(), headers=headers)
    assert resp.status_code == 415


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    resp = client.post("/predict", content=json.dumps(GOOD).encode(),
                       headers={"content-type": "application/json; charset=utf-8"})
    assert resp.status_code == 200


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/health", headers={"x-request-id": "req-42"}).headers["x-request-id"] == "req-42"
    made = client.get("/health", headers={"x-request-id": "bad id\twith tab"}).headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()


def test_access_log_is_one_json_line_with_the_request_id(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="model_server.access"):
        client.post("/predict", json=GOOD, headers={"x-request-id": "trace-1"})
    [record] = [r for r in caplog.records if r.name == "model_server.access"]
    token = request_id.set("trace-1")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "trace-1"
    assert (line["route"], line["status"], line["method"]) == ("/predict", 200, "POST")
    assert line["duration_ms"] >= 0


def test_metrics_count_requests_predictions_and_load_time(client: TestClient) -> None:
    client.post("/predict", json=[GOOD, GOOD])
    client.post("/predict", json={"island": "Mars"})
    client.post("/predict", content=b"x", headers={"content-type": "text/plain"})
    text = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    assert 'http_request_duration_seconds_bucket{le="0.5",method="POST",route="/predict",status="200"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/predict",status="415"} 1.0' in text
    assert "model_load_seconds " in text
    predicted = [line for line in text.splitlines() if line.startswith("predictions_total{")]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in predicted) == 2.0


def test_metrics_token_guards_metrics_only(make_app: Callable[..., Any]) -> None:
    with TestClient(make_app(metrics_token="s3cret")) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"authorization": "Bearer nope"}).status_code == 401
        assert c.get("/metrics", headers={"authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/ready").status_code == 200


def test_tampered_model_is_refused_and_reported(
    make_app: Callable[..., Any], tampered_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="model_server"):
        app = make_app(model_dir=tampered_dir)
    assert any("model refused" in r.getMessage() and "sha256" in r.getMessage() for r in caplog.records)
    with TestClient(app) as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503
        assert "does not match" in ready.json()["reason"]
        resp = c.post("/predict", json=GOOD)
        assert resp.status_code == 503
        assert c.get("/version").json()["ready"] is False


def test_missing_model_is_reported_not_raised(make_app: Callable[..., Any], tmp_path: Path) -> None:
    with TestClient(make_app(model_dir=tmp_path / "nothing")) as c:
        ready = c.get("/ready")
        assert ready.status_code == 503 and "not found" in ready.json()["reason"]


def test_concurrent_requests_are_answered_correctly_with_fewer_model_calls(make_app: Callable[..., Any]) -> None:
    app = make_app()
    records = [{**GOOD, "bill_length_mm": 30.0 + i} for i in range(40)]

    async def scenario() -> tuple[list[str], list[str]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            singles = await asyncio.gather(*(c.post("/predict", json=r) for r in records))
            batch = await c.post("/predict", json=records)
        return [r.json()["predictions"][0]["label"] for r in singles], [p["label"] for p in batch.json()["predictions"]]

    singles, batch = asyncio.run(scenario())
    assert singles == batch
    calls = app.state.metrics.model_calls._value.get()
    assert calls < len(records) + 1
