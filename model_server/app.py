"""The app factory: `create_app(settings, model)` builds the ASGI app around an already loaded model.

Nothing is read at import. Tests pass a tiny model; `model_server.asgi` passes the real one.
This module deliberately has no `from __future__ import annotations`: the /predict signature uses
types built at run time from the data contract, and FastAPI must see them as objects.
"""

import json
import logging
import secrets
from collections import Counter
from typing import Annotated, Any

from fastapi import Body, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from model_server import __version__
from model_server.loader import ServingModel
from model_server.metrics import Metrics
from model_server.middleware import RequestGuard
from model_server.monitor import Monitor
from model_server.predictor import MicroBatcher
from model_server.schema import record_model, renamed_attributes, request_body, response_model
from model_server.settings import Settings

log = logging.getLogger("model_server")

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body cannot be decoded (for example, it is not UTF-8)"},
    413: {"description": "body larger than MAX_BODY_BYTES"},
    415: {"description": "Content-Type is not application/json"},
    503: {"description": "the model is not loaded or failed verification; see /ready"},
}


def _invalid(monitor: Monitor) -> Any:
    async def handler(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """422 naming each field and its problem. The offending input is not echoed back: it may be
        large, and NaN or Infinity from a lenient JSON parser would make the error itself unrenderable."""
        errors = exc.errors()
        monitor.out_of_contract(errors)
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in errors[:50]]
        return JSONResponse({"detail": detail}, status_code=422)

    return handler


def create_app(settings: Settings, model: ServingModel) -> FastAPI:
    metrics = Metrics()
    metrics.load_seconds.set(model.load_seconds)
    monitor = Monitor.build(
        metrics, model_hash=model.sha256 or "unknown", release=settings.heroku_release_version, ready=model.ready,
        features=model.features, reference=model.drift_reference, enabled=settings.drift,
        size=settings.drift_window, min_records=settings.drift_min_records,
        refresh_seconds=settings.drift_refresh_seconds,
    )
    batcher = MicroBatcher(
        model.predictor, settings.max_batch_rows, on_call=metrics.model_calls.inc
    ) if model.predictor else None
    record = record_model(model.contract, model.features)
    renamed = renamed_attributes(record)
    body_type = request_body(record, settings.max_batch)

    app = FastAPI(
        title="Model serving API",
        version=__version__,
        description=f"Predicts {', '.join(model.classes)} from {', '.join(model.features)}. "
        "The request schema is derived from the data contract.",
        docs_url=None,
        redoc_url=None,
    )
    known_paths: set[str] = set()
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, metrics=metrics,
                       known_paths=known_paths)
    app.add_exception_handler(RequestValidationError, _invalid(monitor))

    @app.get("/health", summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: the model is loaded and verified",
             responses={503: _ERRORS[503]})
    async def ready() -> JSONResponse:
        if model.ready:
            return JSONResponse({"status": "ready", "model_sha256": model.sha256})
        return JSONResponse({"status": "not ready", "reason": model.problem}, status_code=503)

    @app.get("/version", summary="Model hash, git commit, params and training metrics")
    async def version() -> dict[str, Any]:
        return {**model.provenance, "ready": model.ready, "app_version": __version__}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse,
             responses={401: {"description": "METRICS_TOKEN is set and the bearer token is missing or wrong"}})
    async def metrics_endpoint(request: Request) -> Response:
        token = settings.metrics_token
        if token is not None:
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {token.get_secret_value()}".encode()):
                return JSONResponse({"detail": "bearer token required"}, status_code=401)
        return Response(metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post(
        "/predict",
        summary="Predict one record or a batch",
        response_model=response_model(model.classes),
        responses={code: _ERRORS[code] for code in (400, 413, 415, 503)},
    )
    async def predict(body: Annotated[body_type, Body()]) -> Response:  # type: ignore[valid-type]
        if batcher is None:
            return JSONResponse({"detail": f"model not ready: {model.problem}"}, status_code=503)
        records: list[Any] = body if isinstance(body, list) else [body]
        rows = [r.__dict__ for r in records] if not renamed else \
            [{renamed.get(k, k): v for k, v in r.__dict__.items()} for r in records]
        results = await batcher.submit(rows)
        for label, count in Counter(label for label, _ in results).items():
            metrics.predictions.labels(label).inc(count)
        monitor.observe(rows, [label for label, _ in results])
        doc = {
            "model_sha256": model.sha256,
            "predictions": [{"label": label, "probabilities": probs} for label, probs in results],
        }
        # Built here and returned as bytes: the response model documents the shape, but
        # re-validating what the model just produced would cost more than the prediction.
        return Response(json.dumps(doc), media_type="application/json")

    known_paths.update(getattr(r, "path", "") for r in app.routes)
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.monitor = monitor
    return app
