"""Structured logs: one JSON object per line, each carrying the id of the request it belongs to."""

from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            doc["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            doc.update(fields)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def log_config(level: str) -> dict[str, Any]:
    """A logging.dictConfig for the app, uvicorn and gunicorn alike (each applies it again in its
    processes; gunicorn lays it over its own defaults, so every key it has is set here)."""
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
        "root": {"handlers": ["stdout"], "level": "WARNING"},
        "loggers": {
            "model_server": {"handlers": ["stdout"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["stdout"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "gunicorn.error": {"handlers": ["stdout"], "level": upper, "propagate": False},
            # Our middleware writes one access line per request, with its id; theirs would duplicate it.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
