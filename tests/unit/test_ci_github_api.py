"""`pipeline ci comment | release | candidate fetch` against a small GitHub REST API served on loopback.

Real sockets and real HTTP (requests, urllib3 retries, redirects); the fake server keeps just enough state to
answer the calls the commands make, checks the bearer token, and records every request it saw.
"""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from model_server.model_meta import ModelMeta
from pipeline.ci import api as api_module
from pipeline.ci import candidate, comment, release
from pipeline.ci.api import GitHub, GitHubSettings
from pipeline.cli import main
from pipeline.errors import ConfigError, DataError, ExternalError, GateFailed
from tests.github_standin import REPO, TOKEN, GitHubStandIn, State

SHA = "a" * 40
IMAGE_ID = "sha256:" + "b" * 64


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[State]:
    with GitHubStandIn(REPO, TOKEN) as standin:
        monkeypatch.setenv("GITHUB_API_URL", standin.api_url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        yield standin.state


def gh(**kwargs: Any) -> GitHub:
    return GitHub(GitHubSettings.from_env(), backoff=0, **kwargs)


def report_dir(tmp_path: Path, pr: str = "7", report: str | None = None) -> Path:
    (tmp_path / "pr-number.txt").write_text(pr)
    (tmp_path / "report.md").write_text(
        report
        or "## ML pipeline report\n\n### ✅ Data gate: passed\n\n"
        "### Plots\n\n![plots/roc.png](plots/roc.png)\n"
    )
    return tmp_path


def comment_args(d: Path, *extra: str) -> list[str]:
    return [
        "ci",
        "comment",
        "--report",
        str(d / "report.md"),
        "--report",
        str(d / "scan.md"),
        "--pr-file",
        str(d / "pr-number.txt"),
        *extra,
    ]


# --- the sticky comment ----------------------------------------------------------------------------


def test_comment_is_created_then_updated_in_place(api: State, tmp_path: Path) -> None:
    api.heads[7] = SHA
    api.comments[7] = [{"id": i, "body": f"human {i}", "user": {"login": f"dev{i}"}} for i in range(3)]
    d = report_dir(tmp_path)

    assert main(comment_args(d, "--head-sha", SHA)) == 0
    ours = [c for c in api.comments[7] if c["body"].startswith(comment.MARKER)]
    assert len(ours) == 1 and "Data gate: passed" in ours[0]["body"]

    (d / "report.md").write_text("## ML pipeline report\n\n### ❌ Metric gate: failed\n")
    assert main(comment_args(d, "--head-sha", SHA)) == 0
    ours = [c for c in api.comments[7] if c["body"].startswith(comment.MARKER)]
    assert len(ours) == 1 and "Metric gate: failed" in ours[0]["body"]
    # The earlier comments were paged through (page size 2) before deciding to update, not to create.
    assert [
        s.query.get("page") for s in api.seen if s.path.endswith("/issues/7/comments") and s.method == "GET"
    ] == [None, ["2"], None, ["2"]]
    assert len(api.comments[7]) == 4


def test_same_report_twice_changes_nothing(
    api: State, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.heads[7] = SHA
    d = report_dir(tmp_path)
    assert main(comment_args(d, "--head-sha", SHA)) == 0
    assert main(comment_args(d, "--head-sha", SHA)) == 0
    assert "unchanged the report comment" in capsys.readouterr().out
    assert [s.method for s in api.seen].count("PATCH") == 0


def test_a_marker_in_someone_elses_comment_is_not_ours(api: State, tmp_path: Path) -> None:
    api.heads[7] = SHA
    api.comments[7] = [{"id": 1, "body": comment.MARKER + " spoof", "user": {"login": "mallory"}}]
    assert main(comment_args(report_dir(tmp_path), "--head-sha", SHA)) == 0
    assert api.comments[7][0]["body"] == comment.MARKER + " spoof"
    assert len(api.comments[7]) == 2


@pytest.mark.parametrize(
    "content", ["7; rm -rf /", "-3", "0", "", "7\n8", "\uff11\uff12", "99999999999", "$(id)"]
)
def test_pr_number_must_be_a_plain_integer(
    api: State, tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]
) -> None:
    d = report_dir(tmp_path, pr=content)
    assert main(comment_args(d)) == 3
    err = capsys.readouterr().err
    assert "refusing to comment" in err and len(err.strip().splitlines()) == 1
    assert api.seen == []


def test_artifact_claiming_another_pr_is_not_commented(
    api: State, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    api.heads[7] = "c" * 40  # PR 7 is at another commit than the run that produced the artifact
    assert main(comment_args(report_dir(tmp_path), "--head-sha", SHA)) == 0
    assert "not commenting from a stale or mismatched run" in capsys.readouterr().out
    assert api.comments.get(7, []) == []


def test_head_sha_and_run_url_come_from_the_workflow_run_event(
    api: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.heads[7] = SHA
    event = tmp_path / "event.json"
    run_url = f"https://github.test/{REPO}/actions/runs/42"
    event.write_text(json.dumps({"workflow_run": {"head_sha": SHA, "html_url": run_url}}))
    monkeypatch.setenv("GITHUB_EVENT_NAME", "workflow_run")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(comment_args(report_dir(tmp_path))) == 0
    body = api.comments[7][0]["body"]
    assert f"[this run]({run_url})" in body and f"Commit {SHA[:12]}" in body


def test_missing_report_still_tells_the_author(api: State, tmp_path: Path) -> None:
    api.heads[7] = SHA
    d = report_dir(tmp_path)
    (d / "report.md").unlink()
    assert main(comment_args(d, "--head-sha", SHA)) == 0
    assert "produced no report" in api.comments[7][0]["body"]


def test_body_defuses_mentions_names_plots_and_fits_githubs_limit() -> None:
    huge = "## report\n\n![plots/pr.png](plots/pr.png)\ncc @octocat and `@code`\n" + ("| row |\n" * 20_000)
    body = comment.render([huge], run_url="https://github.test/run/1", artifact="pipeline-report")
    assert body.startswith(comment.MARKER)
    assert "@octocat" not in body and "@\u200doctocat" in body and "`@code`" in body
    assert "![" not in body and "`pr.png`" in body and "pipeline-report" in body
    assert len(body) <= 65536 and "report truncated" in body


def test_marker_inside_the_report_is_dropped() -> None:
    body = comment.render([f"x {comment.MARKER} y"], run_url=None, artifact="a")
    assert body.count(comment.MARKER) == 1


# --- transport: auth, errors, retries, secrets -----------------------------------------------------


def test_settings_report_every_problem_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as err:
        GitHubSettings.from_env({"GITHUB_API_URL": "http://api.example.com", "GITHUB_REPOSITORY": "nope"})
    message = str(err.value)
    assert "GITHUB_TOKEN" in message and "GITHUB_REPOSITORY" in message and "https" in message


def test_bad_token_is_one_clear_line_without_the_token(
    api: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api.token = "another"
    api.heads[7] = SHA
    assert main(comment_args(report_dir(tmp_path), "--head-sha", SHA)) == 3
    captured = capsys.readouterr()
    assert "answered 401 (Bad credentials): the token is invalid or expired" in captured.err
    assert TOKEN not in captured.err + captured.out


def test_token_never_appears_in_reprs_errors_or_logs(api: State, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = gh()
    assert TOKEN not in repr(client) and TOKEN not in repr(client.settings)
    assert TOKEN not in repr(client._session.auth)
    api.faults = [500, 500, 500, 500, 500]
    with pytest.raises(ExternalError) as err:
        client.json("GET", f"/repos/{REPO}/pulls/1")
    assert TOKEN not in str(err.value) and TOKEN not in caplog.text


def test_transient_errors_are_retried_for_safe_calls_only(api: State) -> None:
    api.heads[3] = SHA
    api.faults = [502, 503]
    assert gh().json("GET", f"/repos/{REPO}/pulls/3")["head"]["sha"] == SHA
    api.faults = [502]
    with pytest.raises(ExternalError, match="answered 502"):
        gh().json("POST", f"/repos/{REPO}/issues/3/comments", json={"body": "x"})
    assert api.comments.get(3, []) == []  # a POST is never repeated: no duplicate comment


def test_unreachable_api_is_an_external_error() -> None:
    settings = GitHubSettings(api_url="http://127.0.0.1:9", repository=REPO, token=TOKEN)
    with pytest.raises(ExternalError, match="check the network"):
        GitHub(settings, retries=0, timeout=2).json("GET", "/repos/x/y")


def test_pagination_never_follows_links_to_another_host(api: State) -> None:
    with pytest.raises(ExternalError, match="another host"):
        gh().request("GET", "http://evil.example:8080/steal")


# --- releases --------------------------------------------------------------------------------------


def test_release_is_created_then_updated_on_rerun(
    api: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("## v1.2.0\n\nfirst")
    monkeypatch.setenv("GITHUB_REF_NAME", "v1.2.0")
    assert main(["ci", "release", "--notes", str(notes)]) == 0
    assert api.releases["v1.2.0"]["body"].endswith("first")
    notes.write_text("## v1.2.0\n\nsecond")
    assert main(["ci", "release", "--notes", str(notes)]) == 0
    assert api.releases["v1.2.0"]["body"].endswith("second") and len(api.releases) == 1


@pytest.mark.parametrize("tag", ["main", "v1;rm", "", "1.0"])
def test_release_tag_is_checked(api: State, tmp_path: Path, tag: str) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("x")
    assert main(["ci", "release", "--tag", tag, "--notes", str(notes)]) == 2
    assert api.seen == []


def test_release_notes_carry_metrics_gate_scan_and_model_card(tmp_path: Path) -> None:
    text = release.notes(
        tag="v1.0.0",
        commit=SHA,
        image_id=IMAGE_ID,
        staging_url="https://github.test/run/9",
        metrics={
            "accuracy": 0.9855,
            "macro_f1": 0.98,
            "test_rows": 69,
            "per_class": {"Adelie": {"precision": 1.0, "recall": 0.97, "f1": 0.98, "support": 30}},
        },
        data_gate={"passed": True, "summary": {"expectations": 39, "failed": 0}},
        model_meta=ModelMeta(model="random_forest", format="skops", target="species", classes=("Adelie",),
                             features=("island",), train_rows=275, sha256="f" * 64, hyperparameters={"n": 1}),
        scan_md="## ✅ Scan gate: passed\n\n0 blocking findings",
        data_source="palmerpenguins",
    )
    assert "| accuracy | 0.9855 |" in text and "| Adelie | 1.0000 | 0.9700 |" in text
    assert "✅ passed: 39 expectations evaluated, 0 failed" in text
    assert "#### ✅ Scan gate: passed" in text and IMAGE_ID in text
    assert "`random_forest`" in text and "275 rows from `palmerpenguins`" in text and "f" * 64 in text


def test_release_notes_command_reads_the_repository_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[2]
    staged = tmp_path / "candidate.json"
    candidate.write(
        staged, candidate.Candidate(commit=SHA, image="app:1", image_id=IMAGE_ID, app="my-staging")
    )
    out = tmp_path / "notes.md"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert (
        main(
            [
                "-C",
                str(root),
                "ci",
                "release-notes",
                "--tag",
                "v0.1.0",
                "--candidate",
                str(staged),
                "--scan",
                str(tmp_path / "absent.md"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text()
    assert "## v0.1.0" in text and IMAGE_ID in text and "No scan summary found" in text
    assert "### Metrics" in text and "### Model card" in text


# --- the release candidate hand-over ---------------------------------------------------------------


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _stage(api: State, record: dict[str, Any], image: dict[str, bytes] | None = None) -> None:
    api.runs = [
        {"id": 41, "head_sha": SHA, "run_started_at": "2026-11-01T00:00:00Z"},
        {"id": 42, "head_sha": SHA, "run_started_at": "2026-11-02T00:00:00Z"},
    ]
    api.artifacts[42] = [
        {"id": 501, "name": "release-candidate", "expired": False},
        {"id": 502, "name": "image", "expired": False},
    ]
    api.blobs[501] = _zip({"candidate.json": json.dumps(record).encode(), "scan.md": b"ok"})
    api.blobs[502] = _zip(image if image is not None else {"image.tar": b"tar bytes"})


def test_fetch_downloads_the_newest_staged_candidate_without_leaking_the_token(
    api: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stage(api, {"commit": SHA, "image": "app:1", "image_id": IMAGE_ID, "app": "my-staging"})
    outputs = tmp_path / "out"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    dest = tmp_path / "staged"
    assert main(["ci", "candidate", "fetch", "--sha", SHA, "--dest", str(dest)]) == 0
    assert (dest / "candidate.json").is_file() and (dest / "image.tar").read_bytes() == b"tar bytes"
    written = outputs.read_text()
    assert IMAGE_ID in written and str(dest / "image.tar") in written and "run_id<<" in written
    assert "42" in written
    # The redirect left the API host: the artifact store never saw the token.
    assert len(api.blob_seen) == 2
    assert all("Authorization" not in s.headers for s in api.blob_seen)


def test_fetch_refuses_a_candidate_from_another_commit(api: State, tmp_path: Path) -> None:
    _stage(api, {"commit": "d" * 40, "image": "app:1", "image_id": IMAGE_ID, "app": "my-staging"})
    assert main(["ci", "candidate", "fetch", "--sha", SHA, "--dest", str(tmp_path)]) == 1


def test_fetch_without_a_staging_run_says_what_to_do(
    api: State, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ci", "candidate", "fetch", "--sha", SHA, "--dest", str(tmp_path)]) == 1
    assert "let it deploy to staging before tagging" in capsys.readouterr().err


@pytest.mark.parametrize("member", ["../escape.tar", "/abs/image.tar", "a/../../x"])
def test_fetch_refuses_archives_that_escape(api: State, tmp_path: Path, member: str) -> None:
    _stage(
        api,
        {"commit": SHA, "image": "app:1", "image_id": IMAGE_ID, "app": "my-staging"},
        image={member: b"x"},
    )
    dest = tmp_path / "staged"
    assert main(["ci", "candidate", "fetch", "--sha", SHA, "--dest", str(dest)]) == 3
    assert not (tmp_path / "escape.tar").exists()


@pytest.mark.parametrize(
    "record",
    [
        {"commit": SHA, "image": "app:1", "image_id": "sha256:short", "app": "my-staging"},
        {"commit": SHA, "image": "app 1", "image_id": IMAGE_ID, "app": "my-staging"},
        {"commit": SHA, "image": "app:1", "image_id": IMAGE_ID, "app": "Bad_App"},
        {"image": "app:1", "image_id": IMAGE_ID, "app": "my-staging"},
    ],
)
def test_malformed_candidates_are_refused(tmp_path: Path, record: dict[str, Any]) -> None:
    path = tmp_path / "candidate.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError):
        candidate.read(path)


def test_candidate_write_then_read_round_trips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_SHA", SHA)
    monkeypatch.setenv("GITHUB_RUN_ID", "77")
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    out = tmp_path / "candidate.json"
    assert (
        main(
            [
                "ci",
                "candidate",
                "write",
                "--image",
                "app:1",
                "--image-id",
                IMAGE_ID,
                "--app",
                "my-staging",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    read = candidate.read(out, commit=SHA)
    assert read.image_id == IMAGE_ID and read.run_url.endswith(f"{REPO}/actions/runs/77")
    with pytest.raises(GateFailed):
        candidate.read(out, commit="e" * 40)


# --- the PR number from the pull_request event -----------------------------------------------------


def test_pr_number_is_saved_from_the_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 12}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    out = tmp_path / "reports" / "pr-number.txt"
    assert main(["ci", "pr-number", "--out", str(out)]) == 0
    assert comment.read_pr_number(out) == 12


def test_pr_number_outside_a_pull_request_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"push": {}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    assert main(["ci", "pr-number", "--out", str(tmp_path / "n")]) == 3


def test_a_huge_report_is_read_only_as_far_as_a_comment_holds(tmp_path: Path) -> None:
    big = tmp_path / "report.md"
    with big.open("wb") as fh:
        fh.write(b"\xff" + b"x" * (20 << 20))  # 20 MB, and not even valid UTF-8
    text = comment.read_section(big)
    assert len(text) == comment.MAX_BODY and text.startswith("\ufffd")


@pytest.mark.parametrize(("header", "wait"), [("2", 2.0), ("3600", 60.0), (None, 0.0), ("soon", 0.0)])
def test_retry_after_is_honoured_but_never_parks_the_job(header: str | None, wait: float) -> None:
    answer = requests.Response()
    answer.status_code = 429
    if header is not None:
        answer.headers["Retry-After"] = header
    assert api_module._retry_after(answer) == wait
    assert api_module._retry_after(ConnectionError()) == 0.0
