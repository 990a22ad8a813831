"""A small GitHub REST client for the few calls the workflows make (comments, releases, runs, artifacts).

Settings come from the variables every Actions job has (GITHUB_API_URL, GITHUB_REPOSITORY) plus the token the
step passes in (GITHUB_TOKEN). The token lives in one auth object whose repr hides it; it is sent only to the
configured API host (requests drops it when a redirect leaves that host, as artifact downloads do), and no
message this module raises contains it.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity

from pipeline import retry
from pipeline.errors import ConfigError, ExternalError

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
API_VERSION = "2022-11-28"
# Calls safe to send twice: a repeated POST could create a second comment or release.
_REPEATABLE = frozenset({"GET", "HEAD", "PATCH"})
# A hostile or confused server must not park the job: Retry-After is honoured up to this.
_MAX_RETRY_AFTER = 60.0

log = logging.getLogger("pipeline.ci")


@dataclass(frozen=True)
class GitHubSettings:
    api_url: str
    repository: str
    token: str = field(repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GitHubSettings:
        """Read and check every variable at once, so one run reports every problem."""
        env = env if env is not None else os.environ
        api_url = (env.get("GITHUB_API_URL") or "https://api.github.com").rstrip("/")
        repository = env.get("GITHUB_REPOSITORY", "")
        token = env.get("GITHUB_TOKEN", "")
        problems = []
        if not token.strip():
            problems.append(
                "GITHUB_TOKEN is not set (give the step `env: GITHUB_TOKEN: ${{ github.token }}`)"
            )
        if not _REPOSITORY.match(repository):
            problems.append(f"GITHUB_REPOSITORY must look like owner/name, got {repository!r}")
        parts = urlsplit(api_url)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)
        if not parts.hostname or not secure:
            problems.append(
                f"GITHUB_API_URL must be an https:// URL (plain http only on loopback), got {api_url!r}"
            )
        if problems:
            raise ConfigError("GitHub settings: " + "; ".join(problems))
        return cls(api_url=api_url, repository=repository, token=token.strip())


class _Bearer(requests.auth.AuthBase):
    """Adds the token to requests for the API host only; its repr never shows it."""

    def __init__(self, token: str, host: str) -> None:
        self._token = token
        self._host = host

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlsplit(request.url or "").netloc == self._host:
            request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "<Bearer token hidden>"


def _hint(status: int) -> str:
    if status == 401:
        return "the token is invalid or expired"
    if status in (403, 404):
        return "check the job's `permissions:` (and that the resource exists)"
    if status == 422:
        return "GitHub rejected the request body"
    return "GitHub had a problem; rerun the job"


class GitHub:
    """The REST calls the CI commands need, each a method returning parsed JSON."""

    def __init__(
        self, settings: GitHubSettings, *, timeout: float = 30.0, retries: int = 3, backoff: float = 1.0
    ) -> None:
        self.settings = settings
        self._timeout = timeout
        self._host = urlsplit(settings.api_url).netloc
        self._session = requests.Session()
        self._session.trust_env = False  # no .netrc or proxy credentials mixed into API calls
        self._session.auth = _Bearer(settings.token, self._host)
        self._session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "mlops-ci-pipeline",
            }
        )
        self._backoff = retry.Backoff(max_attempts=retries + 1, base=backoff)

    def __repr__(self) -> str:
        return f"GitHub(api_url={self.settings.api_url!r}, repository={self.settings.repository!r})"

    @property
    def repo_path(self) -> str:
        return f"/repos/{self.settings.repository}"

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if urlsplit(path_or_url).netloc != self._host:
                raise ExternalError(
                    f"GitHub API pointed at another host ({urlsplit(path_or_url).netloc}); refusing"
                )
            return path_or_url
        return self.settings.api_url + path_or_url

    def request(
        self, method: str, path: str, *, ok: tuple[int, ...] = (), stream: bool = False, **kwargs: Any
    ) -> requests.Response:
        """One call; an HTTP error or a network fault becomes a one-line PipelineError naming the call."""
        where = f"GitHub API {method} {urlsplit(self._url(path)).path}"
        url, repeatable = self._url(path), method in _REPEATABLE
        retrying = retry.retrying(
            self._backoff,
            # A broken connection is retried when the call is safe to repeat or certainly never arrived;
            # a 429/5xx answer only when the call is safe to repeat (a POST may have been applied).
            retry=tenacity.retry_if_exception(
                lambda exc: isinstance(exc, requests.RequestException) and (repeatable or retry.never_connected(exc))
            )
            | tenacity.retry_if_result(lambda answer: repeatable and answer.status_code in retry.RETRY_STATUS),
            log=log,
            describe=lambda failure: f"{where}: " + (
                f"answered {failure.status_code}" if isinstance(failure, requests.Response) else type(failure).__name__
            ),
            floor=_retry_after,
            on_retry=lambda failure: failure.close() if isinstance(failure, requests.Response) else None,
            return_last_result=True,
        )
        try:
            response = retrying(self._session.request, method, url, timeout=self._timeout, stream=stream, **kwargs)
        except requests.RequestException as exc:
            # The exception text can carry the URL but never the token, which only ever sits in a header.
            raise ExternalError(f"{where}: {type(exc).__name__}; check the network and rerun") from None
        if response.status_code >= 400 and response.status_code not in ok:
            detail = _message(response)
            error = ConfigError if response.status_code in (401, 403, 404, 422) else ExternalError
            raise error(f"{where} answered {response.status_code}{detail}: {_hint(response.status_code)}")
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ExternalError(f"GitHub API {method} {path}: the answer is not JSON") from None

    def paginate(
        self, path: str, *, params: Mapping[str, Any] | None = None, key: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint, following `Link: rel="next"` (kept on the API host)."""
        url: str | None = path
        query: Mapping[str, Any] | None = {"per_page": 100, **(params or {})}
        while url:
            response = self.request("GET", url, params=query)
            data = response.json()
            items = data.get(key, []) if key else data
            if not isinstance(items, list):
                raise ExternalError(f"GitHub API GET {path}: expected a list, got {type(items).__name__}")
            yield from items
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries its own query string

    def download(self, path: str, dest: Path, *, limit: int) -> Path:
        """Stream a (possibly redirected) download to `dest`, refusing anything over `limit` bytes."""
        response = self.request("GET", path, stream=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with response, dest.open("wb") as fh:
            for chunk in response.iter_content(chunk_size=1 << 16):
                size += len(chunk)
                if size > limit:
                    fh.close()
                    dest.unlink(missing_ok=True)
                    raise ExternalError(f"GitHub download {path}: larger than {limit} bytes; refusing")
                fh.write(chunk)
        return dest


def _retry_after(failure: object) -> float:
    if not isinstance(failure, requests.Response):
        return 0.0
    return min(retry.retry_after_seconds(failure.headers.get("Retry-After")) or 0.0, _MAX_RETRY_AFTER)


def _message(response: requests.Response) -> str:
    try:
        message = response.json().get("message", "")
    except (ValueError, AttributeError):
        message = ""
    message = " ".join(str(message).split())[:200]
    return f" ({message})" if message else ""
