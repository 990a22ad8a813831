"""The one retry policy (pipeline/retry.py): waits, floors, the deadline, give-up, and its log line.

The clients' own choices (what is safe to repeat) are tested against real HTTP servers with their
clients: tests/unit/test_ci_github_api.py, tests/integration/deploy/test_deploy_http.py and the
registry's faults in tests/e2e/deploy/test_deploy_e2e.py.
"""

from __future__ import annotations

import logging

import pytest
import tenacity
from hypothesis import given
from hypothesis import strategies as st

from pipeline import retry

log = logging.getLogger("tests.retry")


class Flaky:
    """Fails `failures` times (raising or returning `bad`), then returns "ok"."""

    def __init__(self, failures: int, bad: object = None) -> None:
        self.failures, self.bad, self.calls = failures, bad, 0

    def __call__(self) -> object:
        self.calls += 1
        if self.calls <= self.failures:
            if self.bad is None:
                raise ConnectionError(f"attempt {self.calls} failed")
            return self.bad
        return "ok"


@given(attempt=st.integers(1, 60), base=st.floats(0, 10), cap=st.floats(0, 100))
def test_waits_are_full_jitter_within_the_exponential_bound(attempt: int, base: float, cap: float) -> None:
    wait = retry.Backoff(max_attempts=3, base=base, cap=cap).wait(attempt)
    assert 0 <= wait <= min(cap, base * 2 ** (attempt - 1))


def test_retries_until_success_and_logs_one_line_per_retry(caplog: pytest.LogCaptureFixture) -> None:
    slept: list[float] = []
    seen: list[object] = []
    call = Flaky(2)
    retrying = retry.retrying(retry.Backoff(4, base=0.5), retry=tenacity.retry_if_exception_type(ConnectionError),
                              log=log, sleep=slept.append, on_retry=seen.append)
    with caplog.at_level(logging.INFO, logger="tests.retry"):
        assert retrying(call) == "ok"
    assert call.calls == 3 and len(slept) == 2 and all(0 <= s <= 1.0 for s in slept)
    assert [str(e) for e in seen] == ["attempt 1 failed", "attempt 2 failed"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0].startswith("attempt 1 failed; retry 1/3 in ")


def test_the_last_exception_is_raised_unchanged_when_attempts_run_out() -> None:
    call = Flaky(10)
    retrying = retry.retrying(retry.Backoff(3, base=0), retry=tenacity.retry_if_exception_type(ConnectionError),
                              log=log, sleep=lambda _: None)
    with pytest.raises(ConnectionError, match=r"^attempt 3 failed$"):
        retrying(call)
    assert call.calls == 3


def test_with_return_last_result_a_result_that_stayed_bad_is_returned() -> None:
    call = Flaky(10, bad=503)
    retrying = retry.retrying(retry.Backoff(3, base=0), retry=tenacity.retry_if_result(lambda r: r == 503),
                              log=log, sleep=lambda _: None, return_last_result=True)
    assert retrying(call) == 503
    assert call.calls == 3


def test_a_floor_raises_a_wait_and_the_deadline_caps_it() -> None:
    slept: list[float] = []
    retrying = retry.retrying(retry.Backoff(3, base=0), retry=tenacity.retry_if_exception_type(ConnectionError),
                              log=log, floor=lambda _: 2.0, sleep=slept.append)
    assert retrying(Flaky(1)) == "ok"
    assert slept == [2.0]

    slept.clear()
    left = iter([5.0, 5.0, 0.5, 0.5])  # the deadline's remaining time as the retries go on
    retrying = retry.retrying(retry.Backoff(5, base=0), retry=tenacity.retry_if_exception_type(ConnectionError),
                              log=log, floor=lambda _: 2.0, remaining=lambda: next(left), sleep=slept.append)
    with pytest.raises(ConnectionError, match="attempt 2 failed"):
        retrying(Flaky(10))  # after the second failure the 2 s wait is cut to the 0.5 s left, and then stops
    assert slept == [2.0]


def test_no_retry_when_the_deadline_has_no_time_for_the_wait() -> None:
    call = Flaky(10)
    retrying = retry.retrying(retry.Backoff(5, base=0), retry=tenacity.retry_if_exception_type(ConnectionError),
                              log=log, remaining=lambda: 0.0, sleep=lambda _: pytest.fail("slept past the deadline"))
    with pytest.raises(ConnectionError):
        retrying(call)
    assert call.calls == 1


@pytest.mark.parametrize(("header", "seconds"), [("3", 3.0), ("0", 0.0), (None, None), ("", None),
                                                  ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("-1", None), ("1.5", None)])
def test_retry_after_is_read_in_whole_seconds_only(header: str | None, seconds: float | None) -> None:
    assert retry.retry_after_seconds(header) == seconds
