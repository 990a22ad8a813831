"""Tracking failures as one line: a warning that lets the command go on, or an error when tracking is required.

A tracking server is never a gate: with `tracking.required: false` (the default) its failure can neither fail
nor pass anything, it is reported and the pipeline's own verdicts stand. Messages are redacted, cut to one
line and bounded in length, so no credential and no traceback reaches a log or a report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pipeline.deploy.settings import RedactingFilter
from pipeline.errors import ExternalError, PipelineError
from pipeline.tracking.settings import TrackingSettings

T = TypeVar("T")
log = logging.getLogger("pipeline.tracking")
_MAX_REASON = 240


def protect_logs(settings: TrackingSettings) -> None:
    """MLflow and urllib3 log through the root handlers; scrub credentials from whatever they print."""
    scrub = RedactingFilter(settings.redactor())
    for handler in logging.getLogger().handlers:
        handler.addFilter(scrub)
    for name in ("pipeline", "mlflow", "urllib3"):
        logging.getLogger(name).addFilter(scrub)


def reason(settings: TrackingSettings, exc: BaseException) -> str:
    text = settings.redactor()(str(exc)).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    if len(first) > _MAX_REASON:
        first = first[: _MAX_REASON - 3] + "..."
    return f"{type(exc).__name__}: {first}"


def guarded(settings: TrackingSettings, action: str, call: Callable[[], T]) -> T | None:
    """Run `call`; a failure is a warning (None) or, with tracking required, an ExternalError (exit 4)."""
    try:
        return call()
    except PipelineError:
        raise  # our own errors (bad config, bad model) already say what and how to fix
    except Exception as exc:  # MLflow raises MlflowException, requests' errors, OSError, ...
        message = (f"tracking server {settings.display_uri}: {action} failed ({reason(settings, exc)}); check "
                   "MLFLOW_TRACKING_URI and its credentials")
        if settings.required:
            raise ExternalError(f"{message}, or set tracking.required: false to go on without it") from None
        log.warning("%s; going on without tracking (tracking.required: false)", message)
        return None
