"""Facts read from the webhook payload GitHub writes for the running workflow ($GITHUB_EVENT_PATH)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from model_server.safe_load import ParseError, load_json
from pipeline.errors import ConfigError

# GitHub caps webhook payloads at 25 MB.
EVENT_MAX_BYTES = 32 << 20


def payload(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = env if env is not None else os.environ
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        raise ConfigError("GITHUB_EVENT_PATH is not set: this command runs inside a GitHub Actions job")
    try:
        data = load_json(Path(path).read_bytes(), max_bytes=EVENT_MAX_BYTES)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the event payload ({type(exc).__name__})") from None
    except ParseError as exc:
        raise ConfigError(f"{exc.located(path)} (the event payload)") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the event payload is not a JSON object")
    return data


def pull_request_number(env: Mapping[str, str] | None = None) -> int:
    number = (payload(env).get("pull_request") or {}).get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise ConfigError("the event has no pull_request.number: run this on a pull_request event")
    return number


def workflow_run(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `workflow_run` object of a workflow_run event, or {} for any other event."""
    env = env if env is not None else os.environ
    if env.get("GITHUB_EVENT_NAME") != "workflow_run":
        return {}
    run = payload(env).get("workflow_run")
    return run if isinstance(run, dict) else {}
