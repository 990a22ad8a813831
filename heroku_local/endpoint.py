"""The endpoint file: how a running heroku-local tells clients where its API and registry listen.

heroku-local owns this format; it is the one writer. A client (`pipeline deploy --target local`) reads
it as a documented file, the way it would read any service's discovery file, and imports nothing from
here (the import contracts in pyproject.toml forbid it both ways). The format:

    $HEROKU_LOCAL_HOME/endpoint.json   (default: $XDG_CACHE_HOME/heroku-local, else ~/.cache/heroku-local)
    {"api_url": "http://127.0.0.1:5005", "registry": "127.0.0.1:40123"}

`api_url` is the Platform API base URL (plain http, loopback only); `registry` a host:port for
`docker push`. The file exists only while that heroku-local runs; it removes its own file on stop.
tests/unit/deploy/test_endpoint_contract.py holds writer and reader to this description.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

HOME_VAR = "HEROKU_LOCAL_HOME"
FILE_NAME = "endpoint.json"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get(HOME_VAR):
        return Path(env[HOME_VAR]).expanduser()
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "heroku-local"


def announce(home: Path, api_url: str, registry: str) -> Path:
    """Write the file through a temporary one renamed into place, so a reader never sees half of it."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / FILE_NAME
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps({"api_url": api_url, "registry": registry}, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def withdraw(home: Path, api_url: str) -> None:
    """Remove the file if it still names this instance (another one may have started on the same home)."""
    path = home / FILE_NAME
    with contextlib.suppress(ValueError, OSError, AttributeError):
        if json.loads(path.read_text(encoding="utf-8")).get("api_url") == api_url:
            path.unlink()
