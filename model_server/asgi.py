"""An ASGI app factory for other servers: settings from the environment, the verified model, the app.

`uvicorn model_server.asgi:app_from_env --factory`, for running the app under another server;
`pipeline serve` builds the app itself (model_server/server.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from model_server.app import create_app
from model_server.loader import load_serving_model
from model_server.settings import load_settings


def app_from_env() -> FastAPI:
    settings = load_settings()
    return create_app(settings, load_serving_model(settings))
