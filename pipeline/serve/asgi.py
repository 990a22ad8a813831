"""An ASGI app factory for other servers: settings from the environment, the verified model, the app.

`uvicorn pipeline.serve.asgi:app_from_env --factory`, for running the app under another server;
`pipeline serve` builds the app itself (pipeline/serve/server.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from pipeline.serve.app import create_app
from pipeline.serve.loader import load_serving_model
from pipeline.settings import load_settings


def app_from_env() -> FastAPI:
    settings = load_settings()
    return create_app(settings, load_serving_model(settings))
