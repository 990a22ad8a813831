"""Integration: the deployer's Platform API client against heroku-local's real API server on loopback
(no Docker needed: these calls never start a dyno), with faults injected by the server itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from heroku_local.api import TokenBucket, create_api
from heroku_local.faults import Fault, FaultBook
from heroku_local.platform import Platform
from heroku_local.registry.index import RegistryIndex
from heroku_local.runtime import RuntimeRules
from heroku_local.servers import HttpServers
from pipeline.deploy.deadline import Deadline
from pipeline.deploy.http import AmbiguousResult, HerokuAPI, HerokuAPIError
from pipeline.deploy.settings import Target
from pipeline.errors import ConfigError

pytestmark = pytest.mark.integration

KEY = "hk-int-" + "5" * 24


class Served:
    def __init__(self, url: str, platform: Platform, faults: FaultBook) -> None:
        self.url, self.platform, self.faults = url, platform, faults
        self.clients: list[HerokuAPI] = []

    def client(self, key: str = KEY, seconds: float = 30.0, **options: Any) -> HerokuAPI:
        target = Target("local", self.url, "127.0.0.1:1", SecretStr(key))
        options = {"backoff": 0.01, "refill_per_second": 50.0, **options}
        client = HerokuAPI(target, Deadline(seconds), **options)
        self.clients.append(client)
        return client


@pytest.fixture
def serve() -> Iterator[Callable[..., Served]]:
    servers = HttpServers()
    started: list[Served] = []

    def start(capacity: int = 4500, per_second: float = 75 / 60) -> Served:
        platform = Platform(None, RegistryIndex(), RuntimeRules())
        faults = FaultBook()
        _, port = servers.serve(
            create_api(platform, SecretStr(KEY), faults, TokenBucket(capacity, per_second))
        )
        platform.create_app("demo")
        started.append(Served(f"http://127.0.0.1:{port}", platform, faults))
        return started[-1]

    yield start
    for served in started:
        for client in served.clients:
            client.close()
    servers.close()


def test_a_503_burst_is_retried_until_it_answers(serve):
    served = serve()
    served.faults.add(Fault("api", path="^/apps/demo$", status=503, times=3))
    api = served.client()
    assert api.app("demo")["name"] == "demo"
    assert (api.requests_made, api.retries) == (4, 3)


def test_a_429_burst_is_retried(serve):
    served = serve()
    served.faults.add(Fault("api", path="^/apps/demo$", status=429, times=2))
    api = served.client()
    assert api.app("demo")["stack"]["name"] == "container"
    assert api.retries == 2


def test_a_low_ratelimit_remaining_spaces_requests_out_and_an_empty_pool_gives_up(serve, caplog):
    served = serve(capacity=3, per_second=0.001)
    api = served.client(max_attempts=3)
    caplog.set_level(logging.INFO, logger="pipeline.deploy")
    api.app("demo")
    assert api.rate_limit_remaining == 2
    api.app("demo")
    assert "rate limit low (2 requests left)" in caplog.text
    api.app("demo")
    with pytest.raises(HerokuAPIError, match=r"429 rate_limit.*still failing after 3 attempts"):
        api.app("demo")


def test_a_dropped_connection_on_a_read_is_retried(serve):
    served = serve()
    served.faults.add(Fault("api", method="GET", path="/releases$", drop="before", times=2))
    api = served.client()
    assert api.releases("demo") == []
    assert api.retries == 2


def test_a_lost_answer_to_a_rollback_is_reported_not_resent(serve):
    served = serve()
    served.faults.add(Fault("api", method="POST", path="/releases$", drop="after"))
    api = served.client()
    with pytest.raises(AmbiguousResult, match="may or may not have been applied"):
        api.rollback("demo", "8d1c6e0a-2b9f-4f5e-9a77-0f3a5b1c2d3e")
    assert api.requests_made == 1


def test_a_wrong_key_is_one_line_naming_the_variable(serve):
    served = serve()
    api = served.client(key="hk-wrong-key-0000000000")
    with pytest.raises(ConfigError) as caught:
        api.app("demo")
    message = str(caught.value)
    assert "401 unauthorized: Invalid credentials provided." in message and "set HEROKU_API_KEY" in message
    assert "\n" not in message and "hk-wrong-key" not in message
    assert api.requests_made == 1


def test_an_unknown_app_says_how_to_create_it(serve):
    with pytest.raises(ConfigError, match=r"app 'nope' not found.*heroku create nope --stack container"):
        serve().client().app("nope")


def test_an_invalid_request_is_not_retried(serve):
    api = serve().client()
    with pytest.raises(HerokuAPIError) as caught:
        api.update_formation("demo", [{"type": "web", "docker_image": "sha256:" + "a" * 64}])
    assert caught.value.status == 422 and caught.value.error_id == "invalid_params"
    assert api.requests_made == 1


def test_the_overall_deadline_bounds_the_retries(serve):
    served = serve()
    served.faults.add(Fault("api", path="^/apps/demo$", status=503, times=1000))
    api = served.client(seconds=1.5, backoff=0.5, max_attempts=100)
    started = time.monotonic()
    with pytest.raises(HerokuAPIError, match="503 unavailable"):
        api.app("demo")
    assert time.monotonic() - started < 3.0


def test_reprs_and_errors_never_show_the_key(serve):
    served = serve()
    api = served.client()
    texts = [repr(api), repr(api.target), repr(api.session.headers)]
    served.faults.add(Fault("api", path="^/apps/demo$", status=500, times=100))
    with pytest.raises(HerokuAPIError) as caught:
        served.client(max_attempts=2).app("demo")
    texts.append(str(caught.value))
    assert all(KEY not in text for text in texts)
