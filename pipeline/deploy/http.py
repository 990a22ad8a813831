"""The Heroku Platform API client the deployer uses (and nothing more).

- Bearer auth from the target's SecretStr, applied per request (never stored in session headers).
- `Accept: application/vnd.heroku+json; version=3`, or a variant such as `3.docker-releases`.
- Retries under the tool's one policy (pipeline/retry.py) on 429, 5xx and broken connections,
  bounded by the deploy's one Deadline; a request that is not idempotent is only retried when the
  server certainly did not act on it (429, 503, connection never made). Otherwise the caller gets
  `AmbiguousResult` and reconciles by looking at the releases list.
- `RateLimit-Remaining` is honoured: when the account's pool runs low, requests are spaced out to
  Heroku's refill rate instead of running into 429s.
- 4xx answers that will not change are never retried and become one-line errors; 401 names the
  variable to fix.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
from requests.auth import AuthBase

from pipeline import __version__, retry
from pipeline.deploy.deadline import Deadline
from pipeline.deploy.settings import KEY_VAR, Target
from pipeline.errors import ConfigError, ExternalError

log = logging.getLogger("pipeline.deploy")

ACCEPT = "application/vnd.heroku+json; version=3"
DOCKER_RELEASES = "docker-releases"
NEWEST_FIRST = "version ..; max={n}, order=desc"
# Heroku refills an account's pool at about 75 requests per minute (4500 per hour).
REFILL_PER_SECOND = 75 / 60
LOW_WATER = 5
NOT_PROCESSED = {429, 503}


class _BearerAuth(AuthBase):
    def __init__(self, target: Target) -> None:
        self._key = target.api_key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._key.get_secret_value()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(***)"


class HerokuAPIError(ExternalError):
    """The API gave a final answer that is not success (after any retries)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        error_id: str | None = None,
        api_message: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.api_message = api_message


class AmbiguousResult(ExternalError):
    """A non-idempotent request may or may not have been acted on (the connection broke mid-way)."""


class _Transient(Exception):
    def __init__(self, summary: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(summary)
        self.summary = summary
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: requests.structures.CaseInsensitiveDict[str]

    @property
    def warning(self) -> str | None:
        return self.headers.get("Warning-Message") or self.headers.get("X-Heroku-Warning")


def _error_fields(resp: requests.Response) -> tuple[str, str]:
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return str(body.get("id") or resp.reason or "error"), str(body.get("message") or "").replace(
            "\n", " "
        )
    return str(resp.reason or "error").lower().replace(" ", "_"), resp.text[:200].replace("\n", " ")


class HerokuAPI:
    def __init__(
        self,
        target: Target,
        deadline: Deadline,
        *,
        max_attempts: int = 6,
        backoff: float = 0.5,
        backoff_max: float = 20.0,
        refill_per_second: float = REFILL_PER_SECOND,
        session: requests.Session | None = None,
    ) -> None:
        self.target = target
        self.deadline = deadline
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.refill_per_second = refill_per_second
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = f"mlops-ci-pipeline/{__version__} (deploy)"
        self._auth = _BearerAuth(target)
        self._redact = target.redactor()
        self.rate_limit_remaining: int | None = None
        self.requests_made = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"HerokuAPI({self.target.api_url!r})"

    def close(self) -> None:
        self.session.close()

    # -- transport -----------------------------------------------------------------------------

    def _floor(self, exc: BaseException | None) -> float:
        """A 429 waits for the pool to refill: Heroku documents no reset header, and a token comes back
        every 0.8 s; wait for one or two, jittered so parallel deploys on one account do not retry in step."""
        if isinstance(exc, _Transient) and exc.status == 429:
            return max(exc.retry_after or 0.0, random.uniform(1.0, 2.0) / self.refill_per_second)  # noqa: S311
        return 0.0

    def _count_retry(self, _failure: object) -> None:
        self.retries += 1

    def _throttle(self) -> None:
        remaining = self.rate_limit_remaining
        if remaining is not None and remaining < LOW_WATER:
            pause = (LOW_WATER - remaining) / self.refill_per_second
            log.info("Heroku API rate limit low (%d requests left); pausing %.1f s", remaining, pause)
            self.deadline.sleep(pause)
            self.rate_limit_remaining = None

    def _note_rate_limit(self, resp: requests.Response) -> None:
        value = resp.headers.get("RateLimit-Remaining")
        try:
            self.rate_limit_remaining = int(value) if value is not None else self.rate_limit_remaining
        except ValueError:
            self.rate_limit_remaining = None

    def _send(self, method: str, url: str, what: str, idempotent: bool, **kwargs: Any) -> requests.Response:
        self._throttle()
        self.deadline.check(what)
        self.requests_made += 1
        try:
            resp = self.session.request(
                method, url, timeout=(self.deadline.cap(10), self.deadline.cap(60)), **kwargs
            )
        except requests.RequestException as exc:
            summary = f"{what}: connection failed ({type(exc).__name__})"
            if not idempotent and not retry.never_connected(exc):
                raise AmbiguousResult(f"{summary}; the request may or may not have been applied") from None
            raise _Transient(summary) from None
        self._note_rate_limit(resp)
        if resp.status_code in retry.RETRY_STATUS:
            error_id, message = _error_fields(resp)
            summary = self._redact(f"{what} -> {resp.status_code} {error_id}: {message}".rstrip(": "))
            if not idempotent and resp.status_code not in NOT_PROCESSED:
                raise AmbiguousResult(f"{summary}; the request may or may not have been applied")
            raise _Transient(summary, resp.status_code, retry.retry_after_seconds(resp.headers.get("Retry-After")))
        return resp

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        variant: str | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Answer:
        """One API call with retries; returns the parsed answer or raises a one-line error."""
        idempotent = method in {"GET", "HEAD", "PUT", "DELETE"} if idempotent is None else idempotent
        what = f"Heroku API {method} {path}"
        hdrs = {"Accept": ACCEPT + (f".{variant}" if variant else ""), **(headers or {})}
        url = self.target.api_url + path
        retrying = retry.retrying(
            retry.Backoff(self.max_attempts, self.backoff, self.backoff_max),
            retry=tenacity.retry_if_exception_type(_Transient),
            log=log,
            floor=self._floor,
            remaining=self.deadline.remaining,
            sleep=self.deadline.sleep,
            on_retry=self._count_retry,
        )
        try:
            resp = retrying(
                self._send, method, url, what, idempotent, json=json, headers=hdrs, auth=self._auth
            )
        except _Transient as exc:
            raise HerokuAPIError(
                f"{exc.summary}; still failing after {retrying.statistics.get('attempt_number', 1)}"
                " attempts; check https://status.heroku.com and re-run the deploy",
                status=exc.status,
            ) from None
        if resp.status_code >= 400:
            self._fail(resp, what)
        body: Any = None
        if resp.content:
            try:
                body = resp.json()
            except ValueError:
                raise HerokuAPIError(f"{what} -> {resp.status_code} but the body is not JSON") from None
        return Answer(resp.status_code, body, resp.headers)

    def _fail(self, resp: requests.Response, what: str) -> None:
        error_id, message = _error_fields(resp)
        message = self._redact(message)
        detail = f"{resp.status_code} {error_id}: {message}".rstrip(": ")
        host = urlsplit(self.target.api_url).hostname
        if resp.status_code == 401:
            raise ConfigError(f"{what} -> {detail}; set {KEY_VAR} to a valid API key for {host}")
        if resp.status_code == 403:
            raise ConfigError(
                f"{what} -> {detail}; the key in {KEY_VAR} has no access to this app "
                "(use a collaborator's key)"
            )
        raise HerokuAPIError(f"{what} -> {detail}", resp.status_code, error_id, message)

    # -- resources -----------------------------------------------------------------------------

    def app(self, app: str) -> dict[str, Any]:
        try:
            return dict(self.request("GET", f"/apps/{app}").body)
        except HerokuAPIError as exc:
            if exc.status == 404:
                raise ConfigError(
                    f"app {app!r} not found on {self.target.api_url}; create it with "
                    f"`heroku create {app} --stack container` (or POST /apps on heroku-local)"
                ) from None
            raise

    def releases(self, app: str, newest: int = 10) -> list[dict[str, Any]]:
        answer = self.request(
            "GET", f"/apps/{app}/releases", headers={"Range": NEWEST_FIRST.format(n=newest)}
        )
        releases = list(answer.body or [])
        # Servers that ignore Range answer oldest first: sort rather than trust the order.
        return sorted(releases, key=lambda r: int(r["version"]), reverse=True)[:newest]

    def release(self, app: str, id_or_version: str | int) -> dict[str, Any]:
        return dict(self.request("GET", f"/apps/{app}/releases/{id_or_version}").body)

    def update_formation(self, app: str, updates: list[dict[str, Any]]) -> Answer:
        # Same images again create no release, so a repeat is harmless: safe to retry.
        return self.request(
            "PATCH",
            f"/apps/{app}/formation",
            json={"updates": updates},
            variant=DOCKER_RELEASES,
            idempotent=True,
        )

    def rollback(self, app: str, release_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/apps/{app}/releases", json={"release": release_id}).body)

    def dynos(self, app: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/apps/{app}/dynos").body or [])

    def formation(self, app: str) -> list[dict[str, Any]]:
        return list(self.request("GET", f"/apps/{app}/formation").body or [])

    def recent_logs(self, app: str, lines: int = 200) -> list[str]:
        """Recent platform log lines (R10, H10, exits...), best effort: [] when logs are unavailable."""
        try:
            session = self.request(
                "POST", f"/apps/{app}/log-sessions", json={"lines": lines, "tail": False}, idempotent=True
            ).body
            url = str(session["logplex_url"])
            # The session URL is pre-signed: it gets no Authorization header.
            resp = self.session.get(url, timeout=(self.deadline.cap(5), self.deadline.cap(10)))
            resp.raise_for_status()
        except (ExternalError, ConfigError, requests.RequestException, KeyError, TypeError) as exc:
            log.debug("could not read the app's logs: %s", self._redact(str(exc)))
            return []
        return resp.text.splitlines()[-lines:]

    def stream_release_output(self, url: str, attempts_404: int = 30) -> Iterator[str]:
        """Lines of a release's `output_stream_url`; 404 until the stream exists, so retry that a while."""
        for _ in range(attempts_404):
            self.deadline.check("following the release output")
            try:
                with self.session.get(
                    url,
                    stream=True,
                    timeout=(self.deadline.cap(5), self.deadline.cap(60)),
                    headers={"Accept": "text/plain"},
                ) as resp:
                    if resp.status_code == 404:
                        self.deadline.sleep(1.0)
                        continue
                    resp.raise_for_status()
                    for raw in resp.iter_lines(decode_unicode=True):
                        yield self._redact(raw)
                    return
            except requests.RequestException as exc:
                # The stream is only informative: the release status decides. Stop streaming quietly.
                log.info(
                    "release output stream interrupted (%s); following the release status instead",
                    type(exc).__name__,
                )
                return
