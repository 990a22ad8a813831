"""End to end: the real `pipeline deploy|promote|rollback` CLI against heroku-local, which runs a real
registry and real containers. Each test gets its own app on one shared heroku-local (boot timeout 3 s).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def record(tmp_path: Path, action: str, app: str) -> dict[str, Any]:
    return json.loads((tmp_path / "records" / f"{action}-{app}.json").read_text())


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_first_deploy_then_a_new_image_then_the_same_image_again(cli, images, make_app, platform, tmp_path):
    app = make_app("deploy")

    first = cli("deploy", "--app", app, "--image", images["good-v1"])
    assert first.returncode == 0, first.stderr
    assert platform.serving(app) == "1"
    done = record(tmp_path, "deploy", app)
    assert done["outcome"] == "deployed" and done["release"]["version"] == 1
    assert done["smoke"]["passed"] and done["smoke"]["predict_status"] == 200
    assert done["images"][0]["config_digest"].startswith("sha256:") and done["model_sha256"]

    second = cli("deploy", "--app", app, "--image", images["good-v2"])
    assert second.returncode == 0, second.stderr
    assert platform.serving(app) == "2"
    assert platform.current(app)["version"] == 2
    dynos = platform.get(f"/apps/{app}/dynos")
    assert [(d["name"], d["state"], d["release"]["version"]) for d in dynos] == [("web.1", "up", 2)]

    again = cli("deploy", "--app", app, "--image", images["good-v2"])
    assert again.returncode == 0, again.stderr
    assert "already live" in again.stdout
    assert record(tmp_path, "deploy", app)["outcome"] == "noop"
    assert len(platform.releases(app)) == 2


def test_image_that_never_binds_port_gets_r10_and_is_rolled_back(cli, images, make_app, platform, tmp_path):
    app = make_app("r10")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0

    result = cli("deploy", "--app", app, "--image", images["noport"])

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "failed at boot" in line and "R10 Boot timeout" in line and "rolled back to v1" in line
    assert platform.serving(app) == "1"
    releases = platform.releases(app)
    assert [r["description"] for r in releases][-1] == "Rollback to v1"
    assert releases[-1]["current"]
    failed = record(tmp_path, "deploy", app)
    assert failed["outcome"] == "rolled_back" and failed["failure"]["code"] == "R10"


def test_dyno_that_crashes_at_boot_is_h10_and_rolled_back(cli, images, make_app, platform):
    app = make_app("h10")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0

    result = cli("deploy", "--app", app, "--image", images["crash"])

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "H10 App crashed: web.1 exited with status 1" in line and "rolled back to v1" in line
    assert platform.serving(app) == "1"


def test_failing_release_phase_fails_the_release_and_changes_nothing(
    cli, images, make_app, platform, tmp_path
):
    app = make_app("phase")
    ok = cli("deploy", "--app", app, "--image", images["good-v1"], "--release-image", images["release-ok"])
    assert ok.returncode == 0, ok.stderr
    assert "running migrations... done" in ok.stderr  # streamed from output_stream_url

    result = cli(
        "deploy", "--app", app, "--image", images["good-v2"], "--release-image", images["release-fail"]
    )

    assert result.returncode == 1
    assert "migration 0042 failed" in result.stderr
    [line] = error_lines(result.stderr)
    assert "failed at release-phase" in line and "v1 still live" in line
    releases = platform.releases(app)
    assert [(r["version"], r["status"], r["current"]) for r in releases] == [
        (1, "succeeded", True),
        (2, "failed", False),
    ]
    assert platform.serving(app) == "1"
    assert record(tmp_path, "deploy", app)["outcome"] == "failed"


def test_smoke_test_mismatch_is_rolled_back(cli, images, make_app, platform, tmp_path):
    app = make_app("smoke")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0

    result = cli("deploy", "--app", app, "--image", images["badshape"])

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "failed at smoke" in line and "wrong shape" in line and "rolled back to v1" in line
    assert platform.serving(app) == "1"
    failed = record(tmp_path, "deploy", app)
    assert failed["failure"]["code"] == "smoke_mismatch" and failed["smoke"]["passed"] is False


def test_an_image_serving_another_model_is_rolled_back(cli, images, make_app, platform):
    app = make_app("model")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0

    result = cli("deploy", "--app", app, "--image", images["othermodel"])

    assert result.returncode == 1
    [line] = error_lines(result.stderr)
    assert "the app serves model 000000000000, this deploy expects" in line and "rolled back to v1" in line
    assert platform.serving(app) == "1"


def test_first_deploy_that_fails_has_nothing_to_roll_back_to(cli, images, make_app, platform, tmp_path):
    app = make_app("first")
    result = cli("deploy", "--app", app, "--image", images["badshape"])
    assert result.returncode == 1
    assert "no earlier release to roll back to" in record(tmp_path, "deploy", app)["notes"][0]


def test_registry_500s_during_push_are_retried(cli, images, make_app, platform, local):
    app = make_app("reg500")
    # The engine retries a failed layer upload itself; a failed manifest PUT fails the push, which
    # the deployer retries with backoff.
    platform.fault(target="registry", method="POST", path=f"^/v2/{app}/web/blobs/uploads/$", status=500)
    platform.fault(target="registry", method="PUT", path=f"^/v2/{app}/web/manifests/", status=500, times=2)

    result = cli("deploy", "--app", app, "--image", images["good-v1"])

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("500 Internal Server Error); retry") == 2
    assert local.faults.pending() == []
    assert platform.serving(app) == "1"


def test_registry_that_keeps_failing_fails_the_push_cleanly(cli, images, make_app, platform):
    app = make_app("regdown")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    platform.fault(target="registry", method="PUT", path="/manifests/", status=500, times=50)

    result = cli("deploy", "--app", app, "--image", images["good-v2"])

    assert result.returncode == 4
    [line] = error_lines(result.stderr)
    assert "push" in line and "still failing after 4 attempts" in line
    assert len(platform.releases(app)) == 1  # no release was created: nothing half-deployed
    assert platform.serving(app) == "1"


def test_api_429_and_503_bursts_are_retried(cli, images, make_app, platform):
    app = make_app("burst")
    platform.fault(target="api", method="GET", path=f"^/apps/{app}$", status=429, times=3)
    platform.fault(target="api", method="GET", path=f"^/apps/{app}/dynos$", status=503, times=3)

    result = cli("deploy", "--app", app, "--image", images["good-v1"])

    assert result.returncode == 0, result.stderr
    assert result.stderr.count("429 rate_limit") == 3 and result.stderr.count("503 unavailable") == 3
    assert platform.serving(app) == "1"


def test_dropped_connections_mid_release_are_reconciled_not_repeated(cli, images, make_app, platform):
    app = make_app("drop")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    # The formation PATCH is applied, but its answer is lost; then a status poll breaks too.
    platform.fault(target="api", method="PATCH", path=f"^/apps/{app}/formation$", drop="after")
    platform.fault(target="api", method="GET", path=f"^/apps/{app}/dynos$", drop="before")

    result = cli("deploy", "--app", app, "--image", images["good-v2"])

    assert result.returncode == 0, result.stderr
    assert "connection failed" in result.stderr
    assert [r["version"] for r in platform.releases(app)] == [1, 2]  # one release, not two
    assert platform.serving(app) == "2"


def test_rollback_that_loses_its_answer_is_not_sent_twice(cli, images, make_app, platform):
    app = make_app("droprb")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    assert cli("deploy", "--app", app, "--image", images["good-v2"]).returncode == 0
    platform.fault(target="api", method="POST", path=f"^/apps/{app}/releases$", drop="after")

    result = cli("rollback", "--app", app)

    assert result.returncode == 0, result.stderr
    assert "may or may not have been applied" in result.stderr
    assert [r["description"] for r in platform.releases(app)][2:] == ["Rollback to v1"]
    assert platform.serving(app) == "1"


def test_api_that_stays_unavailable_fails_before_releasing_anything(cli, images, make_app, platform):
    app = make_app("api503")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    platform.fault(target="api", method="PATCH", path=f"^/apps/{app}/formation$", status=503, times=50)

    result = cli("deploy", "--app", app, "--image", images["good-v2"])

    assert result.returncode == 4
    [line] = error_lines(result.stderr)
    assert "PATCH /apps/" in line and "still failing after 6 attempts" in line
    assert len(platform.releases(app)) == 1
    assert platform.serving(app) == "1"


def test_wrong_api_key_is_one_clear_line(cli, images, make_app):
    app = make_app("badkey")
    result = cli("deploy", "--app", app, "--image", images["good-v1"], key="hk-wrong-0123456789")
    assert result.returncode == 3
    assert result.stderr.strip().splitlines() == [
        f"error: Heroku API GET /apps/{app} -> 401 unauthorized: Invalid credentials provided.; "
        "set HEROKU_API_KEY to a valid API key for 127.0.0.1"
    ]
    assert "hk-wrong-0123456789" not in result.stderr + result.stdout


def test_app_not_on_the_container_stack_is_refused(cli, images, make_app):
    app = make_app("stack", stack="heroku-24")
    result = cli("deploy", "--app", app, "--image", images["good-v1"])
    assert result.returncode == 3
    assert f"heroku stack:set container --app {app}" in result.stderr


def test_promotion_releases_the_staging_digest_on_production(cli, images, make_app, platform, tmp_path):
    staging, production = make_app("staging"), make_app("prod")
    assert cli("deploy", "--app", staging, "--image", images["good-v2"]).returncode == 0
    staged = record(tmp_path, "deploy", staging)["images"][0]

    result = cli("promote", "--from", staging, "--to", production)

    assert result.returncode == 0, result.stderr
    promoted = record(tmp_path, "promote", production)
    assert promoted["outcome"] == "deployed" and promoted["source_app"] == staging
    assert promoted["images"][0]["config_digest"] == staged["config_digest"]
    assert promoted["images"][0]["manifest_digest"] == staged["manifest_digest"]
    assert platform.serving(production) == "2"

    again = cli(
        "promote",
        "--from",
        staging,
        "--to",
        production,
        "--record",
        str(tmp_path / "records" / f"deploy-{staging}.json"),
    )
    assert again.returncode == 0 and "already live" in again.stdout


def test_promotion_refuses_an_image_staging_does_not_run(cli, images, make_app):
    staging, production = make_app("stg"), make_app("prd")
    assert cli("deploy", "--app", staging, "--image", images["good-v1"]).returncode == 0
    assert (
        cli("deploy", "--app", staging, "--image", images["badshape"]).returncode == 1
    )  # pushed, rolled back

    result = cli("promote", "--from", staging, "--to", production)

    assert result.returncode == 3
    assert "cannot prove" in result.stderr and "pass --digest or --record" in result.stderr


def test_rollback_command_goes_back_one_release_and_verifies_it(cli, images, make_app, platform, tmp_path):
    app = make_app("rb")
    assert cli("deploy", "--app", app, "--image", images["good-v1"]).returncode == 0
    assert cli("deploy", "--app", app, "--image", images["good-v2"]).returncode == 0

    result = cli("rollback", "--app", app)

    assert result.returncode == 0, result.stderr
    assert platform.serving(app) == "1"
    done = record(tmp_path, "rollback", app)
    assert done["outcome"] == "rollback" and done["release"]["version"] == 3 and done["smoke"]["passed"]

    to_v2 = cli("rollback", "--app", app, "--to", "v2")
    assert to_v2.returncode == 0 and platform.serving(app) == "2"

    missing = cli("rollback", "--app", app, "--to", "v99")
    assert missing.returncode == 3 and "not among the last" in missing.stderr


def test_secrets_never_reach_output_records_or_logs(cli, images, make_app, api_key, tmp_path):
    app = make_app("secret")
    runs = [
        cli("deploy", "--app", app, "--image", images["good-v1"], verbose=True),
        cli("deploy", "--app", app, "--image", images["noport"], verbose=True),
        cli("deploy", "--app", "no-such-app", "--image", images["good-v1"], verbose=True),
    ]
    assert [r.returncode for r in runs] == [0, 1, 3]
    written = "".join(p.read_text() for p in (tmp_path / "records").iterdir())
    for text in [written, *(r.stdout + r.stderr for r in runs)]:
        assert api_key not in text
