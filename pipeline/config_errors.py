"""One-line messages for configuration files validated with pydantic (params.yaml, scan-policy.yaml).

Every problem is named by its key as users write it (`waivers[0].expires`, `gates.metrics.min_accuracy`),
and all problems in a file are reported together on one line.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from pipeline.errors import ConfigError

_BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
_DATES = {"date_from_datetime_parsing", "date_parsing", "date_type", "date_from_datetime_inexact"}


def key_path(loc: tuple[Any, ...]) -> str:
    """A pydantic error location as users write it: waivers[0].expires."""
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "(top level)"


def describe(err: Any, docs: str) -> str:
    """One pydantic error as `key: what is wrong, got value`; `docs` says where missing keys are described."""
    key = key_path(tuple(err["loc"]))
    kind = err["type"]
    got = err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return f"{key} is missing; add it (see {docs})"
    if kind == "extra_forbidden":
        return f"{key} is not a known key; remove it or fix its spelling"
    if kind in _BOUNDS:
        return f"{key} must be {_BOUNDS[kind]} {next(iter(ctx.values()))}, got {got!r}"
    if kind in {"enum", "literal_error"}:
        return f"{key} must be one of {ctx.get('expected')}, got {got!r}"
    if kind in _DATES:
        return f"{key} must be a date like 2030-01-31, got {got!r}"
    if kind in {"string_too_short", "too_short"}:
        return f"{key} must not be empty"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    return f"{key}: {err['msg'].lower()}, got {got!r}"


def config_error(exc: ValidationError, source: str, docs: str) -> ConfigError:
    """All of a file's problems, joined into the one-line error the CLI prints."""
    return ConfigError(f"{source}: " + "; ".join(describe(e, docs) for e in exc.errors()))
