"""Integration: heroku-local's Platform API over real HTTP on loopback, without Docker (no dyno starts):
bad input ends in Heroku's error JSON (`id` + `message`) with the right status, and what the official
CLI sends (quantities as strings, relative ones, log sessions read as an event stream) is understood."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import SecretStr

from heroku_local.api import TokenBucket, create_api
from heroku_local.faults import FaultBook
from heroku_local.platform import Platform
from heroku_local.registry.index import RegistryIndex
from heroku_local.runtime import RuntimeRules
from heroku_local.server import LocalConfig
from heroku_local.servers import HttpServers

pytestmark = pytest.mark.integration

KEY = "hk-int-" + "7" * 24
ACCEPT = "application/vnd.heroku+json; version=3"


class Api:
    def __init__(self, url: str, platform: Platform) -> None:
        self.url, self.platform = url, platform
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {KEY}", "Accept": ACCEPT})

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, timeout=10, **kwargs)


@pytest.fixture
def api() -> Iterator[Api]:
    servers = HttpServers()
    platform = Platform(None, RegistryIndex(), RuntimeRules())
    _, port = servers.serve(create_api(platform, SecretStr(KEY), FaultBook(), TokenBucket()))
    platform.create_app("demo")
    client = Api(f"http://127.0.0.1:{port}", platform)
    yield client
    client.http.close()
    platform.shutdown()
    servers.close()


def heroku_error(resp: requests.Response, status: int, error_id: str) -> str:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["id"] == error_id and isinstance(body["message"], str) and body["message"]
    return str(body["message"])


def scale(api: Api, quantity: Any) -> requests.Response:
    return api.call("PATCH", "/apps/demo/formation", json={"updates": [{"type": "web", "quantity": quantity}]})


def test_quantities_as_the_cli_sends_them(api):
    assert [f["quantity"] for f in scale(api, "2").json()] == [2]
    assert [f["quantity"] for f in scale(api, "+1").json()] == [3]
    assert [f["quantity"] for f in scale(api, "-2").json()] == [1]
    assert [f["quantity"] for f in scale(api, 4).json()] == [4]
    assert "0..100" in heroku_error(scale(api, "-5"), 422, "invalid_params")
    for bad in ("two", "", True, 2.5, None, "1e3"):
        heroku_error(scale(api, bad), 422, "invalid_params")
    # A batch with one bad update changes nothing, not even the good ones before it.
    batch = {"updates": [{"type": "worker", "quantity": 1}, {"type": "web", "quantity": "+200"}]}
    heroku_error(api.call("PATCH", "/apps/demo/formation", json=batch), 422, "invalid_params")
    assert [(f["type"], f["quantity"]) for f in api.call("GET", "/apps/demo/formation").json()] == [("web", 4)]


def test_bad_requests_answer_heroku_shaped_errors(api):
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", data=b"{not json"), 400, "bad_request")
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", json=["A"]), 422, "invalid_params")
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", json={"1BAD": "x"}), 422, "invalid_params")
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", json={"A": 1}), 422, "invalid_params")
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", data=b"[" * 200_000), 400, "bad_request")
    heroku_error(api.call("PATCH", "/apps/demo/config-vars", data=b" " * (2 << 20)), 413, "request_entity_too_large")
    heroku_error(api.call("POST", "/apps", json={"name": "Not Valid"}), 422, "invalid_params")
    heroku_error(api.call("POST", "/apps", json={"name": 7}), 422, "invalid_params")
    assert "taken" in heroku_error(api.call("POST", "/apps", json={"name": "demo"}), 422, "invalid_params")
    heroku_error(api.call("PATCH", "/apps/demo", json={"maintenance": "yes"}), 422, "invalid_params")
    heroku_error(api.call("GET", "/apps/nope"), 404, "not_found")
    heroku_error(api.call("GET", "/apps/demo/dynos/web.9"), 404, "not_found")
    heroku_error(api.call("DELETE", "/apps/demo/dynos/web.9"), 404, "not_found")
    heroku_error(api.call("DELETE", "/apps/demo/formations/nope"), 404, "not_found")
    heroku_error(api.call("GET", "/no/such/route"), 404, "not_found")
    heroku_error(api.call("PUT", "/apps/demo"), 405, "method_not_allowed")
    for body in ({"lines": "10"}, {"lines": 0}, {"tail": "yes"}, {"dyno": 5}):
        heroku_error(api.call("POST", "/apps/demo/log-sessions", json=body), 422, "invalid_params")
    heroku_error(api.call("GET", "/logs/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    anonymous = requests.get(api.url + "/account", timeout=10)
    heroku_error(anonymous, 401, "unauthorized")


def test_what_apps_and_apps_info_read(api):
    account = api.call("GET", "/account").json()
    [app] = api.call("GET", "/users/~/apps").json()
    assert app["owner"] == {"email": account["email"], "id": account["id"]}
    assert api.call("GET", "/apps/demo/addons").json() == []
    [owner] = api.call("GET", "/apps/demo/collaborators").json()
    assert (owner["role"], owner["user"]["email"]) == ("owner", account["email"])


def test_log_sessions_speak_event_stream_to_an_event_source_and_text_to_others(api):
    api.call("PATCH", "/apps/demo/config-vars", json={"A": "1"})
    api.call("PATCH", "/apps/demo/config-vars", json={"A": None})
    session = api.call("POST", "/apps/demo/log-sessions", json={"lines": 3, "source": "app"}).json()
    plain = requests.get(session["logplex_url"], timeout=10)  # pre-signed: no key
    assert plain.headers["content-type"].startswith("text/plain")
    lines = plain.text.splitlines()
    assert len(lines) == 3 and lines[-1].endswith("app[api]: Remove A config vars by user heroku-local@localhost")
    events = requests.get(session["logplex_url"], headers={"Accept": "text/event-stream"}, timeout=10)
    assert events.headers["content-type"].startswith("text/event-stream")
    assert [e.removeprefix("data: ") for e in events.text.split("\n\n") if e] == lines


def test_the_key_is_in_no_repr():
    config = LocalConfig(home=Path("/tmp"), api_key=SecretStr(KEY))
    assert KEY not in repr(config)
