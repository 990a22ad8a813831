"""One hard overall timeout for a deploy, shared by every wait and every retry inside it."""

from __future__ import annotations

import time
from collections.abc import Callable

from pipeline.errors import ExternalError


class DeadlineExceeded(ExternalError):
    pass


class Deadline:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self._end - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def cap(self, seconds: float) -> float:
        """A per-call timeout that never outlives the deadline."""
        return max(0.1, min(seconds, self.remaining()))

    def check(self, step: str) -> None:
        if self.expired():
            raise DeadlineExceeded(
                f"gave up during {step}: the overall timeout of {self.seconds:.0f} s ran out; "
                "raise --timeout, or look at the app with `heroku releases` / `heroku ps`"
            )

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.remaining())))
