"""The one retry policy of every HTTP client the tool has: Heroku's Platform API, the container
registry and GitHub's REST API.

How long to wait and when to give up is decided here, once: tenacity, full-jitter exponential backoff
(a random wait between 0 and base * 2**(attempt-1), at most `cap`), a cap on attempts, an optional
overall deadline that no wait may overrun, a floor a client may put under a wait (a Retry-After
header, a rate-limit refill), and one log line per retry. Which failures deserve a retry stays with
each client: only it knows which of its calls are safe to send twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import tenacity
import urllib3

# Answers that say "try again later" rather than "this will not work".
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def never_connected(exc: requests.RequestException) -> bool:
    """True when the request certainly never reached the server, so even a POST is safe to send again."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", None)
    return isinstance(inner, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` header in seconds; the HTTP-date form (which no API here sends) counts as absent."""
    return float(value) if value and value.isdigit() else None


@dataclass(frozen=True)
class Backoff:
    """Attempts in all (the first included) and the full-jitter wait between them."""

    max_attempts: int
    base: float = 1.0
    cap: float = 30.0

    def wait(self, attempt: int) -> float:
        """The wait after the `attempt`-th failure: uniform on [0, min(cap, base * 2**(attempt-1))]."""
        return random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))  # noqa: S311 - not cryptographic


def _failure(state: tenacity.RetryCallState) -> Any:
    """What the attempt ended with: its exception, or its result when the result itself was retried."""
    if state.outcome is None:
        return None
    return state.outcome.exception() if state.outcome.failed else state.outcome.result()


def retrying(
    backoff: Backoff,
    *,
    retry: tenacity.retry_base,
    log: logging.Logger,
    describe: Callable[[Any], str] = str,
    floor: Callable[[Any], float] | None = None,
    remaining: Callable[[], float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Any], None] | None = None,
    return_last_result: bool = False,
) -> tenacity.Retrying:
    """A tenacity.Retrying under the policy.

    - `retry`: which outcomes to try again (the client's call: only it knows what is safe to repeat).
    - `describe`: a failed outcome (exception or result) as the log line's text, redacted by the caller.
    - `floor`: a minimum under a wait (Retry-After, a rate-limit refill).
    - `remaining`: the overall deadline's time left; no wait overruns it, and retries stop when the
      next wait would not fit. `sleep` lets that deadline do the sleeping.
    - `on_retry`: sees each outcome about to be retried (to count it, or to close an unread answer).
    - When the attempts run out the last exception is raised as it was; with `return_last_result` the
      last retried result is returned instead, for the caller to judge (an answer that stayed 503).
    """

    def wait(state: tenacity.RetryCallState) -> float:
        seconds = backoff.wait(state.attempt_number)
        if floor is not None:
            seconds = max(seconds, floor(_failure(state)))
        return min(seconds, remaining()) if remaining is not None else seconds

    def stop(state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= backoff.max_attempts:
            return True
        return remaining is not None and remaining() <= state.upcoming_sleep

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None:
            on_retry(_failure(state))
        log.info("%s; retry %d/%d in %.1f s", describe(_failure(state)), state.attempt_number,
                 backoff.max_attempts - 1, state.upcoming_sleep)

    def give_up(state: tenacity.RetryCallState) -> Any:
        return state.outcome.result() if state.outcome is not None else None  # raises a failed outcome's error

    return tenacity.Retrying(retry=retry, wait=wait, stop=stop, before_sleep=before_sleep, sleep=sleep,
                             reraise=True, retry_error_callback=give_up if return_last_result else None)
