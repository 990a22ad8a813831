"""Unit tests: the pure parts of the deployer and of heroku-local."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from heroku_local.api import TokenBucket
from heroku_local.api.ranges import select_range
from heroku_local.errors import PlatformError
from heroku_local.faults import Fault, FaultBook
from heroku_local.registry.front import manifest_problem
from heroku_local.runtime import DockerRuntime, listening, reachable
from heroku_local.state.releases import Release
from model_server.contract import load_contract
from pipeline.deploy.deployer import Deployer, diagnose, failure_message
from pipeline.deploy.record import DeployRecord
from pipeline.deploy.settings import RedactingFilter, Redactor, Target, resolve_target
from pipeline.deploy.smoke import check_prediction, sample_record
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
CLASSES = ["Adelie", "Chinstrap", "Gentoo"]
KEY = "hk-unit-0123456789abcdef"


# -- smoke -----------------------------------------------------------------------------------------


def test_sample_record_is_valid_under_the_data_contract():
    contract = load_contract(ROOT / "gx" / "expectations" / "data.json")
    features = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
    record = sample_record(contract, features)
    assert list(record) == features
    for name, value in record.items():
        column = contract.column(name)
        if column.allowed:
            assert value in column.allowed
        else:
            assert column.minimum <= value <= column.maximum


@pytest.mark.parametrize(
    "body",
    [
        {
            "predictions": [
                {"label": "Gentoo", "probabilities": {"Adelie": 0.1, "Chinstrap": 0.1, "Gentoo": 0.8}}
            ]
        },
        [{"prediction": "Adelie", "proba": [0.7, 0.2, 0.1]}],
        {"class": "Chinstrap", "probability": {"Adelie": 0.0, "Chinstrap": 1.0, "Gentoo": 0.0}},
    ],
)
def test_well_formed_predictions_pass(body):
    assert check_prediction(body, CLASSES) is None


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"result": "Adelie"}, "no label"),
        ({"predictions": []}, "expected one prediction"),
        ({"label": "Emperor", "probabilities": {"Adelie": 1.0}}, "not one of the model's classes"),
        ({"label": "Adelie"}, "no class probabilities"),
        ({"label": "Adelie", "probabilities": {"Adelie": 0.5, "Gentoo": 0.5}}, "probabilities are for"),
        (
            {"label": "Adelie", "probabilities": {"Adelie": 0.5, "Chinstrap": 0.4, "Gentoo": 0.4}},
            "add up to 1.3000",
        ),
        (
            {"label": "Adelie", "probabilities": {"Adelie": "x", "Chinstrap": 0, "Gentoo": 0}},
            "numbers in [0, 1]",
        ),
    ],
)
def test_malformed_predictions_say_what_is_wrong(body, problem):
    assert problem in check_prediction(body, CLASSES)


# -- diagnosis and messages ------------------------------------------------------------------------

LOG = [
    "2026-01-01T00:00:00+00:00 heroku[web.1]: Starting process with command `python app.py`",
    "2026-01-01T00:00:03+00:00 heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to "
    "$PORT within 60 seconds of launch",
    "2026-01-01T00:00:03+00:00 heroku[web.1]: Process exited with status 137",
    '2026-01-01T00:00:04+00:00 heroku[router]: at=error code=H10 desc="App crashed" method=GET path="/"',
]


def test_diagnose_prefers_the_dynos_r_code_then_its_exit_then_the_router():
    assert diagnose(LOG, "web.1") == (
        "R10",
        "Boot timeout: Web process failed to bind to $PORT within 60 seconds of launch",
    )
    assert diagnose([LOG[0], LOG[2]], "web.1") == ("H10", "App crashed: web.1 exited with status 137")
    assert diagnose([LOG[3]]) == ("H10", "App crashed")
    assert diagnose(LOG, "web.2") == ("H10", "App crashed")
    assert diagnose([]) is None


def test_record_renders_json_and_markdown_and_a_one_line_failure(tmp_path):
    record = DeployRecord(
        "deploy",
        "penguins",
        "heroku",
        outcome="rolled_back",
        model_sha256="ab" * 32,
        git_commit="c0ffee" * 6,
        release={"id": "r", "version": 7, "status": "succeeded"},
        rolled_back_to={"id": "s", "version": 8, "to_version": 6},
        images=[
            {
                "process_type": "web",
                "repository": "penguins/web",
                "config_digest": "sha256:" + "1" * 64,
                "manifest_digest": "sha256:" + "2" * 64,
            }
        ],
        failure={"step": "boot", "code": "R10", "message": "web.1 crashed on v7: R10 Boot timeout"},
    )
    json_path, md_path = record.write(tmp_path)
    assert json.loads(json_path.read_text())["failure"]["code"] == "R10"
    markdown = md_path.read_text()
    assert markdown.startswith("### ❌ deploy penguins v7: failed verification, rolled back (now on v8)")
    assert "| failed at | boot [R10]: web.1 crashed on v7: R10 Boot timeout |" in markdown
    assert "| model sha256 | `abababababab` |" in markdown
    assert failure_message(record) == (
        "deploy of penguins failed at boot: web.1 crashed on v7: R10 Boot timeout; "
        "rolled back to v6 (now v8), which passed the smoke test again"
    )


def test_rollback_target_is_the_newest_succeeded_release_before_the_current_one():
    releases = [
        {
            "id": str(v),
            "version": v,
            "status": s,
            "current": v == 5,
            "eligible_for_rollback": s == "succeeded",
        }
        for v, s in [(5, "succeeded"), (4, "failed"), (3, "succeeded"), (2, "succeeded")]
    ]
    live = releases[0]
    assert Deployer._rollback_target(releases, live, None)["version"] == 3
    assert Deployer._rollback_target(releases, live, "v2")["version"] == 2
    with pytest.raises(ConfigError, match="is failed and cannot be rolled back to"):
        Deployer._rollback_target(releases, live, "4")
    with pytest.raises(ConfigError, match="no earlier succeeded release"):
        Deployer._rollback_target(releases[3:], releases[3], None)


# -- settings and secrets --------------------------------------------------------------------------


def test_settings_report_every_problem_at_once_and_keep_the_key_out_of_reprs(tmp_path):
    with pytest.raises(ConfigError) as caught:
        resolve_target(
            "heroku", {"HEROKU_API_URL": "http://api.example.com", "HEROKU_REGISTRY": "https://r/x"}
        )
    message = str(caught.value)
    assert (
        "unencrypted" in message
        and "must be a host[:port]" in message
        and "HEROKU_API_KEY is not set" in message
    )

    target = resolve_target("heroku", {"HEROKU_API_KEY": KEY})
    assert (target.api_url, target.registry, target.registry_insecure) == (
        "https://api.heroku.com",
        "registry.heroku.com",
        False,
    )
    assert KEY not in repr(target)


def test_local_target_reads_the_announced_endpoints(tmp_path):
    env = {"HEROKU_API_KEY": KEY, "HEROKU_LOCAL_HOME": str(tmp_path)}
    with pytest.raises(ConfigError, match="start one with `heroku-local`"):
        resolve_target("local", env)
    (tmp_path / "endpoint.json").write_text(
        json.dumps({"api_url": "http://127.0.0.1:5005", "registry": "127.0.0.1:5006"})
    )
    target = resolve_target("local", env)
    assert (target.api_url, target.registry, target.registry_insecure) == (
        "http://127.0.0.1:5005",
        "127.0.0.1:5006",
        True,
    )


def test_redaction_scrubs_messages_arguments_and_tracebacks():
    redact = Redactor([KEY])
    assert redact(f"Authorization: Bearer {KEY}") == "Authorization: Bearer ***"
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key=%s", (KEY,), None)
    try:
        raise RuntimeError(f"boom {KEY}")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactingFilter(redact).filter(record)
    assert KEY not in logging.Formatter().format(record)
    assert KEY not in repr(Target("heroku", "https://api.heroku.com", "registry.heroku.com", SecretStr(KEY)))


# -- heroku-local pieces -------------------------------------------------------------------------

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1404 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1
   1: 0100007F:1405 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2
   2: 0100007F:1406 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 3
"""
TCP6 = """   0: 00000000000000000000000000000000:1407 00000000000000000000000000000000:0000 0A 0 0 0 0 0 0 4
"""


def test_bound_port_is_read_from_the_kernels_socket_table():
    assert listening(TCP, 5124) == {"0.0.0.0"}
    assert listening(TCP, 5125) == {"127.0.0.1"}
    assert listening(TCP, 5126) == set()  # established, not listening
    assert listening(TCP6, 5127) == {"::"}
    assert (
        reachable({"0.0.0.0"}) and reachable({"::"}) and not reachable({"127.0.0.1"}) and not reachable(set())
    )


def test_cmd_runs_through_a_shell_unless_there_is_an_entrypoint():
    assert DockerRuntime.command({"Config": {"Cmd": ["python3", "-c", "print('a b')"]}}) == [
        "/bin/sh",
        "-c",
        "exec python3 -c 'print('\"'\"'a b'\"'\"')'",
    ]
    assert DockerRuntime.command({"Config": {"Entrypoint": ["/app"], "Cmd": ["serve"]}}) is None


def _releases(n):
    return [Release(version=v, description=f"v{v}", images={}, config={}) for v in range(1, n + 1)]


def test_release_ranges_follow_heroku():
    page, headers, status = select_range(_releases(5), "version ..; max=2, order=desc")
    assert ([r.version for r in page], status) == ([5, 4], 206)
    assert headers["Next-Range"] == "version ]4..; max=2, order=desc"
    page, _, status = select_range(_releases(5), "version ]4..; max=2, order=desc")
    assert ([r.version for r in page], status) == ([3, 2], 206)
    page, _, status = select_range(_releases(5), "version 2..4")
    assert ([r.version for r in page], status) == ([2, 3, 4], 200)
    page, _, status = select_range(_releases(3), None)
    assert ([r.version for r in page], status) == ([1, 2, 3], 200)
    with pytest.raises(PlatformError) as caught:
        select_range(_releases(1), "version ..; max=0")
    assert caught.value.status == 416


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(capacity=2, per_second=1.0, clock=lambda: now[0])
    assert [bucket.take() for _ in range(3)] == [(True, 1), (True, 0), (False, 0)]
    now[0] = 1.5
    assert bucket.take() == (True, 0)


def test_faults_match_by_target_method_and_path_and_run_out():
    book = FaultBook([Fault("api", path="/formation$", method="PATCH", status=503, times=2)])
    assert book.take("registry", "PATCH", "/apps/a/formation") is None
    assert book.take("api", "GET", "/apps/a/formation") is None
    assert book.take("api", "PATCH", "/apps/a/formation").status == 503
    assert book.take("api", "PATCH", "/apps/a/formation") is not None
    assert book.take("api", "PATCH", "/apps/a/formation") is None
    with pytest.raises(ValueError, match="drop must be"):
        Fault("api", drop="sideways")  # type: ignore[arg-type]


def test_only_docker_v2_manifests_pass_the_registry_front():
    v2 = "application/vnd.docker.distribution.manifest.v2+json"
    good = json.dumps(
        {"schemaVersion": 2, "mediaType": v2, "config": {"digest": "sha256:" + "0" * 64}}
    ).encode()
    assert manifest_problem(v2, good) is None
    assert manifest_problem("application/vnd.oci.image.manifest.v1+json", good).status_code == 400
    assert manifest_problem("application/vnd.oci.image.index.v1+json", good).status_code == 405
    assert manifest_problem(v2, b"{not json").status_code == 400
    oci_body = json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": {}}
    ).encode()
    assert manifest_problem(v2, oci_body).status_code == 400
