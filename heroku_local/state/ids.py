"""Identifiers and timestamps in the forms Heroku's API uses."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def stamp() -> str:
    """ISO 8601 in UTC to the second, as Heroku writes `created_at` and `updated_at`."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


def stable_id(name: str) -> str:
    """The same id for the same name on every run (stacks, regions, sizes, the one user)."""
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
