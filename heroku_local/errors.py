"""heroku-local's own errors. It stands in for Heroku, which knows nothing of the `pipeline` tool, so it
imports nothing from it: these classes are its whole vocabulary, and `heroku_local.cli` maps them to
exit codes the same way `pipeline` does (3 bad setup, 4 a fault outside us).
"""

from __future__ import annotations

from typing import Any


class HerokuLocalError(Exception):
    """heroku-local could not start or keep running; the message says what to do."""

    exit_code = 4


class SetupError(HerokuLocalError):
    """Bad options or a machine that lacks something (a port in use, no registry binary)."""

    exit_code = 3


class ServiceError(HerokuLocalError):
    """Something outside heroku-local failed: the Docker engine, the registry process, a server."""

    exit_code = 4


class PlatformError(Exception):
    """An answer of the Platform API that is an error: HTTP status plus Heroku's error JSON
    (`{"id", "message"[, "resource"]}`), e.g. 404 `not_found` or 422 `invalid_params`."""

    def __init__(self, status: int, error_id: str, message: str, resource: str | None = None) -> None:
        super().__init__(message)
        self.status, self.error_id, self.message, self.resource = status, error_id, message, resource

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.error_id, "message": self.message}
        if self.resource:
            out["resource"] = self.resource
        return out


def invalid(message: str) -> PlatformError:
    """Heroku's answer to a request it understood but will not do: 422 `invalid_params`."""
    return PlatformError(422, "invalid_params", message)


def not_found(resource: str) -> PlatformError:
    return PlatformError(404, "not_found", f"Couldn't find that {resource.replace('-', ' ')}.", resource=resource)
