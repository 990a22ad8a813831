"""End to end: the official Heroku CLI (npm `heroku`, pinned in tests/e2e/heroku_cli/) against heroku-local,
for what a user does with a container app. A client no one here wrote, so heroku-local is held to what
Heroku's API really answers, not to what our deployer happens to read.

The CLI is installed by `npm ci` from the committed lock into a cache keyed on the lock's hash (reused
when present), and runs with HEROKU_HOST pointing at heroku-local, HOME in a temporary directory (its
netrc, config and caches go there, never to the real home) and every outbound feature it has switched
off (telemetry, analytics, auto-update, new-version checks), so the only server it talks to is ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.deploy.conftest import unavailable

pytestmark = pytest.mark.e2e

PINNED = Path(__file__).resolve().parents[1] / "heroku_cli"
CLI_TIMEOUT = 120


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlops-ci" / "heroku-cli"


@pytest.fixture(scope="session")
def heroku_cli_bin() -> Path:
    """run.js of the pinned CLI, from `npm ci` into a cache directory named after the lock's hash."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        unavailable("no node/npm (Debian: apt-get install nodejs npm)")
    lock = PINNED / "package-lock.json"
    digest = hashlib.sha256(lock.read_bytes() + (PINNED / "package.json").read_bytes()).hexdigest()[:16]
    home = _cache_root() / digest
    run_js = home / "node_modules" / "heroku" / "bin" / "run.js"
    if run_js.exists():
        return run_js
    partial = home.with_name(f"{digest}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(PINNED / name, partial / name)
    # --ignore-scripts: the CLI's own code needs none of its dependencies' install scripts (native
    # ssh2 helpers, a postinstall banner), and none of them get to run on this machine.
    result = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=partial,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        pytest.fail(f"npm ci of the pinned Heroku CLI failed: {result.stderr[-2000:]}")
    if not home.exists():  # another session may have finished first; its copy is the same
        partial.rename(home)
    else:
        shutil.rmtree(partial, ignore_errors=True)
    return run_js


@pytest.fixture
def heroku_env(local: Any, api_key: str, tmp_path: Path) -> dict[str, str]:
    """The environment every CLI run gets: heroku-local as the API, a private HOME, nothing outbound."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "HEROKU_HOST": local.api_url,
        "HEROKU_API_KEY": api_key,
        # The CLI asks Particleboard (particleboard.heroku.com) for account delinquency next to some GETs
        # (/account); it reads GET /account there, which heroku-local answers, so point it here.
        "HEROKU_PARTICLEBOARD_URL": local.api_url,
        # Everything the CLI (and its oclif plugins) would otherwise send or fetch elsewhere, by the
        # names their source reads: telemetry and Sentry, Herokulytics, the auto-updater, the
        # "new version available" check against the npm registry. (Checked with strace: with these set,
        # every connect() of apps, apps:create, ps, logs, releases, config:set, rollback is to 127.0.0.1.)
        "DISABLE_TELEMETRY": "true",
        "HEROKU_SKIP_ANALYTICS": "1",
        "HEROKU_DISABLE_AUTOUPDATE": "1",
        "HEROKU_SKIP_NEW_VERSION_CHECK": "true",
        "HEROKU_UPDATE_INSTRUCTIONS": "the Heroku CLI here is pinned in tests/e2e/heroku_cli/package.json",
        "GIT_CONFIG_NOSYSTEM": "1",
        "NO_COLOR": "1",
        "FORCE_COLOR": "0",
        "COLUMNS": "200",
        "NO_PROXY": "127.0.0.1,localhost",
    }


@pytest.fixture
def heroku(
    heroku_cli_bin: Path, heroku_env: dict[str, str], api_key: str
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `heroku <args>` against the shared heroku-local; `heroku(...).stdout` is its output."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["node", str(heroku_cli_bin), *args],
            cwd=heroku_env["HOME"],
            env=heroku_env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            check=False,
        )
        if check:
            assert result.returncode == 0, f"heroku {' '.join(args)} exited {result.returncode}: {result.stderr}"
        assert api_key not in result.stdout + result.stderr
        return result

    return run


def deployed(cli: Any, make_app: Any, images: dict[str, str], stem: str, *tags: str) -> str:
    app = make_app(stem)
    for tag in tags or ("good-v1",):
        result = cli("deploy", "--app", app, "--image", images[tag])
        assert result.returncode == 0, result.stderr
    return app


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"condition not met within {timeout:.0f} s")


def up_dynos(platform: Any, app: str) -> list[dict[str, Any]]:
    return [d for d in platform.get(f"/apps/{app}/dynos") if d["state"] == "up"]


def test_apps_and_apps_info(heroku, cli, make_app, images, platform, local):
    app = deployed(cli, make_app, images, "cli-info")

    listed = json.loads(heroku("apps", "--json").stdout)
    assert app in [a["name"] for a in listed]
    assert {a["name"] for a in listed} == {a.name for a in local.platform.apps.all()}
    assert app in heroku("apps").stdout

    info = json.loads(heroku("apps:info", "--app", app, "--json").stdout)
    assert (info["app"]["name"], info["app"]["stack"]["name"]) == (app, "container")
    assert [d["name"] for d in info["dynos"]] == ["web.1"]
    text = heroku("apps:info", "--app", app).stdout
    assert f"=== {app}" in text and platform.web_url(app) in text and "Stack" in text and "container" in text


def test_apps_create_makes_a_container_app(heroku, make_app, platform, local):
    name = make_app("cli-made-name")  # a fresh name on the shared target, removed afterwards
    local.platform.delete_app(name)
    result = heroku("apps:create", name, "--stack", "container", "--no-remote", "--json")
    created = json.loads(result.stdout)
    assert (created["name"], created["stack"]["name"]) == (name, "container")
    assert platform.get(f"/apps/{name}")["stack"]["name"] == "container"
    taken = heroku("apps:create", name, "--no-remote", check=False)
    assert taken.returncode != 0 and "Name is already taken" in taken.stderr


def test_ps_scale_absolute_and_relative_and_restart(heroku, cli, make_app, images, platform):
    app = deployed(cli, make_app, images, "cli-ps")
    wait_for(lambda: up_dynos(platform, app))
    dynos = json.loads(heroku("ps", "--app", app, "--json").stdout)
    assert [(d["name"], d["state"]) for d in dynos] == [("web.1", "up")]
    assert "web.1: up" in heroku("ps", "--app", app).stdout

    assert heroku("ps:scale", "--app", app).stdout.strip() == "web=1:Standard-1X"
    scaled = heroku("ps:scale", "web=2", "--app", app)
    assert "now running web at 2:Standard-1X" in scaled.stderr + scaled.stdout
    assert platform.get(f"/apps/{app}/formation/web")["quantity"] == 2
    wait_for(lambda: len(up_dynos(platform, app)) == 2)

    scaled = heroku("ps:scale", "web+1", "--app", app)
    assert "now running web at 3:Standard-1X" in scaled.stderr + scaled.stdout
    assert platform.get(f"/apps/{app}/formation/web")["quantity"] == 3
    wait_for(lambda: len(up_dynos(platform, app)) == 3)
    assert sorted(d["name"] for d in json.loads(heroku("ps", "--app", app, "--json").stdout)) == [
        "web.1", "web.2", "web.3"
    ]
    refused = heroku("ps:scale", "web-9", "--app", app, check=False)
    assert refused.returncode != 0 and "quantity must be 0..100" in refused.stderr
    assert platform.get(f"/apps/{app}/formation/web")["quantity"] == 3

    heroku("ps:scale", "web=1", "--app", app)
    wait_for(lambda: [d["name"] for d in platform.get(f"/apps/{app}/dynos")] == ["web.1"])
    for how in ([], ["--process-type", "web"], ["--dyno-name", "web.1"]):
        before = wait_for(lambda: up_dynos(platform, app), timeout=40)[0]["id"]
        restarted = heroku("ps:restart", *how, "--app", app)
        assert "Restarting" in restarted.stderr + restarted.stdout
        after = wait_for(
            lambda old=before: next((d for d in up_dynos(platform, app) if d["id"] != old), None), timeout=40
        )
        assert after["name"] == "web.1", how
    missing = heroku("ps:restart", "--dyno-name", "web.7", "--app", app, check=False)
    assert missing.returncode != 0 and "Couldn't find that dyno" in missing.stderr


def test_releases_info_and_rollback(heroku, cli, make_app, images, platform):
    app = deployed(cli, make_app, images, "cli-rel", "good-v1", "good-v2")
    releases = json.loads(heroku("releases", "--app", app, "--json").stdout)
    assert [r["version"] for r in releases] == [2, 1]  # newest first, as the CLI asks with Range
    assert releases[0]["description"].startswith("Deployed web (")
    assert "v2" in heroku("releases", "--app", app).stdout

    info = json.loads(heroku("releases:info", "--app", app, "--json").stdout)
    assert (info["version"], info["current"]) == (2, True)
    assert "Release v1" in heroku("releases:info", "v1", "--app", app).stdout

    rolled = heroku("rollback", "--app", app)
    assert "v1" in rolled.stderr + rolled.stdout
    current = platform.current(app)
    assert (current["version"], current["description"]) == (3, "Rollback to v1")
    wait_for(lambda: platform.serving(app) == "1", timeout=40)


def test_config_and_config_set(heroku, cli, make_app, images, platform):
    app = deployed(cli, make_app, images, "cli-cfg")
    versions = len(platform.releases(app))
    result = heroku("config:set", "GREETING=hello world", "MODE=test", "--app", app)
    assert "v" + str(versions + 1) in result.stderr + result.stdout
    assert platform.get(f"/apps/{app}/config-vars") == {"GREETING": "hello world", "MODE": "test"}
    assert platform.current(app)["description"] == "Set GREETING, MODE config vars"
    assert json.loads(heroku("config", "--app", app, "--json").stdout) == {"GREETING": "hello world", "MODE": "test"}
    assert "GREETING: hello world" in " ".join(heroku("config", "--app", app).stdout.split())


def test_logs_show_the_dynos_real_output(heroku, cli, make_app, images, platform):
    app = deployed(cli, make_app, images, "cli-logs")
    wait_for(lambda: up_dynos(platform, app))
    lines = heroku("logs", "--app", app, "--num", "200").stdout.splitlines()
    assert any("app[web.1]: stand-in good v1 starting as uid" in line for line in lines), lines
    assert any("heroku[web.1]: State changed from starting to up" in line for line in lines), lines
    only_app = heroku("logs", "--app", app, "--source", "app", "--dyno", "web.1").stdout.splitlines()
    assert only_app and all(" app[web.1]: " in line for line in only_app), only_app


def test_logs_tail_keeps_streaming_lines_written_after_it_started(
    heroku, heroku_cli_bin, heroku_env, api_key, cli, make_app, images, platform
):
    """`heroku logs --tail` is a stream that never ends by itself: read it from a thread, make the platform
    write new lines (a restart), see them arrive on the open stream, then stop the CLI."""
    app = deployed(cli, make_app, images, "cli-tail")
    wait_for(lambda: up_dynos(platform, app))
    tail = subprocess.Popen(
        ["node", str(heroku_cli_bin), "logs", "--tail", "--app", app],
        cwd=heroku_env["HOME"], env=heroku_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout or []], daemon=True).start()
    seen: list[str] = []

    def saw(texts: list[str], since: int, timeout: float) -> bool:
        """Every text in some line read after line `since`, within `timeout` seconds."""
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            if all(any(t in line for line in seen[since:]) for t in texts):
                return True
            try:
                seen.append(lines.get(timeout=0.5))
            except queue.Empty:
                continue
        return False

    try:
        # The recent lines come first, then the stream stays open for what happens next.
        assert saw(["heroku[web.1]: State changed from starting to up"], 0, 60), seen
        recent = len(seen)
        heroku("ps:restart", "--app", app)
        # The old dyno stops and a new web.1 comes up: lines that did not exist when the tail started.
        assert saw(["heroku[web.1]: State changed from up to down", "heroku[web.1]: State changed from starting to up"],
                   recent, 60), seen[recent:]
        assert tail.poll() is None, "the tail ended by itself"
    finally:
        tail.terminate()
        try:
            _, err = tail.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            tail.kill()
            _, err = tail.communicate()
    assert api_key not in "".join(seen) + (err or "")
