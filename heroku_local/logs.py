"""Each app's log: what its dynos print and what the platform says about them, as Logplex keeps it.

Lines look like Heroku's: `2026-01-01T00:00:00.000000+00:00 app[web.1]: listening on 8000` (source
`app` for the dynos' own output, `heroku` for the platform: state changes, R10, router lines). A log
session (POST /apps/{app}/log-sessions) is a filter plus a number of lines; reading its pre-signed
`logplex_url` gives those lines, and with `tail` keeps streaming new ones.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from heroku_local.errors import invalid, not_found
from heroku_local.state.ids import new_id, stamp

KEPT_LINES = 2000  # Logplex keeps the last 1,500 lines; a little more costs nothing here
_LINE = re.compile(r"^\S+ (?P<source>[\w-]+)\[(?P<dyno>[^\]]+)\]: ")


class AppLog:
    """The last lines of one app's log, numbered so a follower can ask for what came after."""

    def __init__(self, capacity: int = KEPT_LINES) -> None:
        self._lines: deque[str] = deque(maxlen=capacity)
        self._written = 0  # lines ever written: the number of the next one
        self._changed = threading.Condition()

    def write(self, source: str, dyno: str, text: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        with self._changed:
            self._lines.append(f"{now} {source}[{dyno}]: {text}")
            self._written += 1
            self._changed.notify_all()

    def lines(self) -> list[str]:
        with self._changed:
            return list(self._lines)

    def since(self, number: int, wait: float = 0.0) -> tuple[list[str], int]:
        """Lines numbered `number` onwards that are still kept, and the number to ask for next; waits
        up to `wait` seconds for one when there is none yet."""
        with self._changed:
            if self._written <= number and wait > 0:
                self._changed.wait(wait)
            first_kept = self._written - len(self._lines)
            start = max(number, first_kept) - first_kept
            return list(self._lines)[start:], self._written


@dataclass(frozen=True)
class LogSession:
    app: str
    lines: int
    dyno: str | None = None
    source: str | None = None
    tail: bool = False
    id: str = field(default_factory=new_id)
    created_at: str = field(default_factory=stamp)

    def wants(self, line: str) -> bool:
        """Heroku's filters: `source` is app or heroku; `dyno` a dyno (web.1) or a whole type (web)."""
        match = _LINE.match(line)
        if match is None:
            return self.source is None and self.dyno is None
        if self.source and match["source"] != self.source:
            return False
        return not self.dyno or match["dyno"] == self.dyno or match["dyno"].startswith(self.dyno + ".")


def _optional_text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not (isinstance(value, str) and 0 < len(value) <= 128):
        raise invalid(f"Invalid params: {key} must be a string such as {'web.1' if key == 'dyno' else 'app'}")
    return value


class LogSessions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, LogSession] = {}

    def open(self, app: str, body: dict[str, Any]) -> LogSession:
        lines = body.get("lines", 100)
        if not isinstance(lines, int) or isinstance(lines, bool) or not 1 <= lines <= 1500:
            raise invalid("Invalid params: lines must be an integer 1..1500")
        tail = body.get("tail", False)
        if not isinstance(tail, bool):
            raise invalid("Invalid params: tail must be true or false")
        session = LogSession(app, lines, _optional_text(body, "dyno"), _optional_text(body, "source"), tail)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> LogSession:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None:
            raise not_found("log-session")
        return session
