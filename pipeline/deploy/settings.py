"""Where a deploy goes and with which key, read from the environment once and validated together.

`HEROKU_API_KEY` is only ever read from the environment. It is held in a `SecretStr`, so it never
shows in a repr, and `Redactor` scrubs it from any text that leaves this package (log records,
error messages built from a server's or the Docker engine's words).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from model_server.safe_load import ParseError, load_json
from pipeline.errors import ConfigError

HEROKU_API = "https://api.heroku.com"
HEROKU_REGISTRY = "registry.heroku.com"
KEY_VAR = "HEROKU_API_KEY"
# heroku-local's endpoint file. heroku-local owns the format (heroku_local/endpoint.py documents it and is
# its one writer); this module only reads it, as a file, since the deployer must reach heroku-local the
# way it reaches Heroku: over HTTP, importing nothing of it (an import contract in pyproject.toml).
LOCAL_HOME_VAR = "HEROKU_LOCAL_HOME"
ENDPOINT_FILE = "endpoint.json"
ENDPOINT_MAX_BYTES = 64 * 1024

TargetName = Literal["heroku", "local"]


def local_home(env: Mapping[str, str] | None = None) -> Path:
    """Where `heroku-local` keeps its registry storage and announces its endpoints."""
    env = os.environ if env is None else env
    if env.get(LOCAL_HOME_VAR):
        return Path(env[LOCAL_HOME_VAR]).expanduser()
    cache = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "heroku-local"


def is_loopback(host: str) -> bool:
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Target:
    """One Heroku-compatible platform: its API, its registry and the key for both."""

    name: TargetName
    api_url: str
    registry: str
    api_key: SecretStr = field(repr=False)

    @property
    def registry_insecure(self) -> bool:
        # Plain HTTP only ever to a registry on this machine (heroku-local); anything else is HTTPS.
        return is_loopback(self.registry)

    def redactor(self) -> Redactor:
        return Redactor([self.api_key.get_secret_value()])


def _check_url(var: str, value: str, problems: list[str]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        problems.append(f"{var}={value!r} is not an http(s) URL")
    elif parts.scheme == "http" and not is_loopback(parts.hostname):
        problems.append(
            f"{var}={value!r} would send the API key unencrypted; use https (plain http is only "
            "allowed on loopback, for heroku-local)"
        )
    return value.rstrip("/")


def resolve_target(name: TargetName, env: Mapping[str, str] | None = None) -> Target:
    """Read the target's endpoints and key, reporting every problem in one line.

    heroku: api.heroku.com and registry.heroku.com. local: the endpoints `heroku-local`
    wrote to $HEROKU_LOCAL_HOME/endpoint.json. HEROKU_API_URL and HEROKU_REGISTRY override either.
    """
    env = os.environ if env is None else env
    problems: list[str] = []
    api_url, registry = HEROKU_API, HEROKU_REGISTRY
    if name == "local":
        announced = local_home(env) / ENDPOINT_FILE
        try:
            endpoint = load_json(announced.read_bytes(), max_bytes=ENDPOINT_MAX_BYTES)
            announced_api, announced_registry = endpoint["api_url"], endpoint["registry"]
            if not (isinstance(announced_api, str) and isinstance(announced_registry, str)):
                raise TypeError("api_url and registry must be strings")
            api_url, registry = announced_api, announced_registry
        except FileNotFoundError:
            if not (env.get("HEROKU_API_URL") and env.get("HEROKU_REGISTRY")):
                problems.append(
                    f"no heroku-local is announced at {announced}; start one with "
                    "`heroku-local` (or set HEROKU_API_URL and HEROKU_REGISTRY)"
                )
        except (ParseError, KeyError, TypeError, OSError):
            problems.append(f"{announced} is not a heroku-local endpoint file; restart `heroku-local`")
    api_url = _check_url("HEROKU_API_URL", env.get("HEROKU_API_URL") or api_url, problems)
    registry = (env.get("HEROKU_REGISTRY") or registry).strip().rstrip("/")
    if "://" in registry or "/" in registry:
        problems.append(f"HEROKU_REGISTRY={registry!r} must be a host[:port] such as registry.heroku.com")
    key = env.get(KEY_VAR, "").strip()
    if not key:
        hint = (
            "the key `heroku-local` was started with"
            if name == "local"
            else "a Heroku API key (`heroku authorizations:create`, stored as a CI secret)"
        )
        problems.append(f"{KEY_VAR} is not set; export {hint}")
    if problems:
        raise ConfigError("deploy settings: " + "; ".join(problems))
    return Target(name=name, api_url=api_url, registry=registry, api_key=SecretStr(key))


class Redactor:
    """Replaces every known secret in a text by '***'."""

    def __init__(self, secrets: list[str]) -> None:
        # Short strings would redact ordinary words; real keys are long.
        self._secrets = [s for s in secrets if len(s) >= 6]

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secret(s))"


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from a record's final message, whoever logged it."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self._redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatted tracebacks are cached on the record; render and scrub them here.
            record.exc_text = self._redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
