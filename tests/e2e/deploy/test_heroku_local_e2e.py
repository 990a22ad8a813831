"""End to end: heroku-local's own contract — the Platform API's shape, a registry that takes only
Docker v2 manifests, and dynos that follow Heroku's runtime rules on the real engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from heroku_local.runtime import LABEL

pytestmark = pytest.mark.e2e

V2 = "application/vnd.docker.distribution.manifest.v2+json"
OCI = "application/vnd.oci.image.manifest.v1+json"


def logs(platform: Any, app: str, **filters: Any) -> list[str]:
    session = platform.http.post(
        f"{platform.local.api_url}/apps/{app}/log-sessions", json={"lines": 500, **filters}, timeout=10
    ).json()
    resp = requests.get(session["logplex_url"], timeout=10)  # pre-signed: no key
    assert resp.status_code == 200
    return resp.text.splitlines()


def dyno_container(docker_client: Any, app: str, dyno: str = "web.1") -> Any:
    [container] = docker_client.containers.list(
        filters={"label": [f"{LABEL}.app={app}", f"{LABEL}.dyno={dyno}"]}
    )
    return container


def registry(api_key: str) -> requests.Session:
    session = requests.Session()
    session.auth = ("_", api_key)
    return session


def test_registry_accepts_only_docker_v2_manifests(cli, images, make_app, local, api_key):
    app = make_app("v2only")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    base = f"http://{local.registry_host}/v2/{app}/web/manifests"
    with registry(api_key) as reg:
        original = reg.get(f"{base}/latest", headers={"Accept": V2}, timeout=10)
        assert original.status_code == 200 and original.json()["mediaType"] == V2

        oci = json.loads(original.content)
        oci["mediaType"], oci["config"]["mediaType"] = OCI, "application/vnd.oci.image.config.v1+json"
        refused = reg.put(f"{base}/oci", data=json.dumps(oci), headers={"Content-Type": OCI}, timeout=10)
        assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "MANIFEST_INVALID"

        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
        refused = reg.put(
            f"{base}/index",
            json=index,
            headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
            timeout=10,
        )
        assert refused.status_code == 405 and refused.json()["errors"][0]["code"] == "UNSUPPORTED"

        accepted = reg.put(f"{base}/copy", data=original.content, headers={"Content-Type": V2}, timeout=10)
        assert accepted.status_code == 201

        anonymous = requests.get(f"{base}/latest", timeout=10)
        assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Basic")
        other = reg.get(f"http://{local.registry_host}/v2/no-such-app/web/manifests/latest", timeout=10)
        assert other.status_code == 403


def test_dynos_run_under_herokus_runtime_rules(cli, images, make_app, platform, docker_client):
    app = make_app("rules")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0

    container = dyno_container(docker_client, app)
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    uid = int(container.attrs["Config"]["User"].split(":")[0])
    assert uid >= 10000
    assert container.attrs["HostConfig"]["Memory"] == 512 * 1024 * 1024  # Standard-1X quota
    assert container.attrs["HostConfig"]["Init"] is True
    assert container.attrs["Config"]["Cmd"] == [
        "/bin/sh",
        "-c",
        "exec python3 -u /srv/app.py",
    ]  # CMD via a shell
    [binding] = container.attrs["HostConfig"]["PortBindings"][f"{env['PORT']}/tcp"]
    assert binding["HostIp"] == "127.0.0.1" and env["DYNO"] == "web.1"
    assert env["HEROKU_RELEASE_VERSION"].startswith("v")  # runtime-dyno-metadata: the app's metrics label
    ready = requests.get(platform.web_url(app) + "ready", timeout=10).json()
    assert ready == {"status": "ready", "uid": uid, "port": env["PORT"]}


def test_router_answers_503_h14_without_dynos_and_h10_when_the_dyno_crashed(cli, images, make_app, platform):
    app = make_app("router")
    empty = requests.get(platform.web_url(app), timeout=10)
    assert empty.status_code == 503 and "H14" in empty.text

    assert (
        cli("deploy", "--app", app, "--image", images["crash"]).returncode == 1
    )  # first release: no rollback
    crashed = requests.get(platform.web_url(app) + "ready", timeout=10)
    assert crashed.status_code == 503 and "Application error" in crashed.text
    assert any('code=H10 desc="App crashed"' in line for line in logs(platform, app, source="heroku"))


def test_listening_on_loopback_only_is_an_r10_with_a_hint(cli, images, make_app):
    app = make_app("lo")
    result = cli("deploy", "--app", app, "--image", images["loopback"])
    assert result.returncode == 1
    assert (
        "R10 Boot timeout" in result.stderr and "it listens on 127.0.0.1 only; bind 0.0.0.0" in result.stderr
    )


def test_over_the_memory_quota_the_dyno_is_killed_with_r15(cli, images, make_app):
    app = make_app("hog")
    result = cli("deploy", "--app", app, "--image", images["hog"])
    assert result.returncode == 1
    assert "R15 Memory quota vastly exceeded" in result.stderr


def test_stopping_is_sigterm_then_sigkill_after_the_stop_timeout(cli, images, make_app, platform):
    app = make_app("stop")
    assert cli("deploy", "--app", app, "--image", images["stubborn"]).returncode == 0
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    assert cli("deploy", "--app", app, "--image", images["good-v2"]).returncode == 0

    web = [line.split(": ", 1)[1] for line in logs(platform, app, dyno="web.1")]
    first_stop = web.index("Stopping all processes with SIGTERM")
    assert web[first_stop : first_stop + 4] == [
        "Stopping all processes with SIGTERM",
        "ignoring SIGTERM",
        "Process exited with status 137",
        "State changed from up to down",
    ]
    assert "Process exited with status 143" in web[first_stop + 4 :]  # the well-behaved one stops on SIGTERM


def test_config_var_changes_make_a_release_and_restart_the_dynos(
    cli, images, make_app, platform, docker_client
):
    app = make_app("config")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    resp = platform.http.patch(
        f"{platform.local.api_url}/apps/{app}/config-vars", json={"MODEL_FLAVOR": "small"}, timeout=10
    )
    assert resp.json() == {"MODEL_FLAVOR": "small"}
    assert platform.current(app)["description"] == "Set MODEL_FLAVOR config vars"
    platform.local.wait_settled(app)
    give_up = time.monotonic() + 20
    while time.monotonic() < give_up:
        dynos = platform.get(f"/apps/{app}/dynos")
        if dynos and dynos[0]["state"] == "up" and dynos[0]["release"]["version"] == 2:
            break
        time.sleep(0.2)
    assert "MODEL_FLAVOR=small" in dyno_container(docker_client, app).attrs["Config"]["Env"]


def test_api_speaks_herokus_shapes(make_app, platform, local, api_key):
    app = make_app("api")
    url = local.api_url

    no_key = requests.get(
        f"{url}/apps/{app}", headers={"Accept": "application/vnd.heroku+json; version=3"}, timeout=10
    )
    assert no_key.status_code == 401
    assert no_key.json() == {"id": "unauthorized", "message": "Invalid credentials provided."}
    assert no_key.headers["Request-Id"]

    no_accept = requests.get(f"{url}/apps/{app}", headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    assert no_accept.status_code == 406 and no_accept.json()["id"] == "not_acceptable"

    first = platform.http.get(f"{url}/apps/{app}", timeout=10)
    second = platform.http.get(f"{url}/apps/{app}", timeout=10)
    assert int(second.headers["RateLimit-Remaining"]) < int(first.headers["RateLimit-Remaining"])
    assert first.json()["stack"]["name"] == "container" and first.json()["web_url"].startswith(
        "http://127.0.0.1:"
    )

    missing = platform.http.get(f"{url}/apps/no-such-app", timeout=10)
    assert missing.status_code == 404 and missing.json() == {
        "id": "not_found",
        "message": "Couldn't find that app.",
        "resource": "app",
    }
    image = {"type": "web", "docker_image": "sha256:" + "0" * 64}
    plain = platform.http.patch(f"{url}/apps/{app}/formation", json={"updates": [image]}, timeout=10)
    assert plain.status_code == 422 and "docker-releases" in plain.json()["message"]
    docker_variant = {"Accept": "application/vnd.heroku+json; version=3.docker-releases"}
    unknown = platform.http.patch(
        f"{url}/apps/{app}/formation", json={"updates": [image]}, headers=docker_variant, timeout=10
    )
    assert unknown.status_code == 422 and "push it first" in unknown.json()["message"]
    bare = platform.http.patch(
        f"{url}/apps/{app}/formation", json=[image], headers=docker_variant, timeout=10
    )
    assert bare.status_code == 422 and '{"updates": [...]}' in bare.json()["message"]
    by_version = platform.http.post(f"{url}/apps/{app}/releases", json={"release": 1}, timeout=10)
    assert by_version.status_code == 422 and "uuid" in by_version.json()["message"]
    bad_range = platform.http.get(f"{url}/apps/{app}/releases", headers={"Range": "nonsense"}, timeout=10)
    assert bad_range.status_code == 416
    assert platform.get("/account/rate-limits")["remaining"] > 0


def test_release_list_honours_range_newest_first(cli, images, make_app, platform):
    app = make_app("range")
    for image in ("good-v1", "good-v2", "good-v1"):
        assert cli("deploy", "--app", app, "--image", images[image]).returncode == 0
    resp = platform.http.get(
        f"{platform.local.api_url}/apps/{app}/releases",
        headers={"Range": "version ..; max=2, order=desc"},
        timeout=10,
    )
    assert resp.status_code == 206
    assert [r["version"] for r in resp.json()] == [3, 2]
    assert resp.headers["Next-Range"] == "version ]2..; max=2, order=desc"
    assert [r["current"] for r in resp.json()] == [True, False]


def test_heroku_local_command_runs_until_sigterm_and_cleans_up(docker_client, tmp_path, api_key):
    home = tmp_path / "home"
    env = {**os.environ, "HEROKU_API_KEY": api_key}
    command = [
        sys.executable,
        "-m",
        "heroku_local",
        "--home",
        str(home),
        "--port",
        "0",
        "--app",
        "cli-made",
        "--boot-timeout",
        "5",
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        endpoint = home / "endpoint.json"
        give_up = time.monotonic() + 30
        while not endpoint.exists() and server.poll() is None and time.monotonic() < give_up:
            time.sleep(0.1)
        api_url = json.loads(endpoint.read_text())["api_url"]
        app = requests.get(
            f"{api_url}/apps/cli-made",
            timeout=10,
            headers={
                "Authorization": f"Bearer {api_key}",
                "Accept": "application/vnd.heroku+json; version=3",
            },
        )
        assert app.status_code == 200 and app.json()["stack"]["name"] == "container"
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert out.startswith("heroku-local stopped (API was http://127.0.0.1:")
    assert api_key not in out + err
    assert not endpoint.exists()
    instance = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]
    assert [n.name for n in docker_client.networks.list() if n.name == f"hl-{instance}"] == []
    assert docker_client.containers.list(all=True, filters={"label": f"{LABEL}={instance}"}) == []


def test_heroku_local_command_needs_a_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "HEROKU_API_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "heroku_local", "--home", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert "HEROKU_API_KEY must be set" in result.stderr
