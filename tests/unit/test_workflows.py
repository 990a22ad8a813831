"""The GitHub workflows are hardened, valid, and only call commands that exist.

Checked against the real things: GitHub's workflow schema (check-jsonschema), zizmor's audits (offline), the
real `pipeline` argument parser and the Makefile's real targets.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent

# Write access is granted only here, each for one reason (see docs/github-actions.md).
WRITE_GRANTS = {
    ("pr-comment.yml", "comment", "pull-requests"),  # the sticky report comment
    ("release.yml", "release", "contents"),  # creating the GitHub Release
}

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
_VERSION_COMMENT = re.compile(r"^\s*#\s*v\d+\.\d+\.\d+\s*$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    if True in data:
        data["on"] = data.pop(True)
    return data


def jobs() -> Iterator[tuple[Path, str, dict[str, Any]]]:
    for path in WORKFLOWS:
        for name, job in load(path)["jobs"].items():
            yield path, name, job


def steps() -> Iterator[tuple[Path, str, int, dict[str, Any]]]:
    for path, name, job in jobs():
        for index, step in enumerate(job.get("steps", [])):
            yield path, name, index, step


def run_commands(path: Path | None = None, job: str | None = None) -> list[tuple[str, list[str]]]:
    found = []
    for wf, name, _, step in steps():
        if "run" in step and (path is None or wf == path) and (job is None or name == job):
            found.append((f"{wf.name}:{name}:{step.get('name', step['run'])}", shlex.split(step["run"])))
    return found


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def resolve(words: list[str]) -> tuple[tuple[str, ...], bool]:
    """The sub-command path `words` names, and whether the real parser has it down to a leaf."""
    parser, path = build_parser(), []
    for word in words:
        choices = subparsers(parser)
        if word not in choices:
            break
        parser, path = choices[word], [*path, word]
    return tuple(path), bool(path) and not subparsers(parser)


def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([A-Za-z0-9][A-Za-z0-9_-]*)\s*:(?!=)", text, flags=re.MULTILINE))


def test_there_is_a_workflow_for_each_event() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {
        "pr.yml",
        "pr-comment.yml",
        "deploy.yml",
        "release.yml",
        "reusable-pr.yml",
        "reusable-deploy.yml",
    } <= names


def test_workflows_match_githubs_schema() -> None:
    out = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_zizmor_finds_nothing() -> None:
    out = subprocess.run(
        [str(BIN / "zizmor"), "--offline", "--no-progress", str(ROOT / ".github" / "workflows")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "No findings to report" in out.stdout, out.stdout


def test_every_zizmor_suppression_says_why() -> None:
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if "zizmor: ignore" in line:
                reason = line.split("]", 1)[1].strip() if "]" in line else ""
                assert len(reason) >= 20, f"{path.name}:{number}: a zizmor suppression needs its reason"


def test_every_action_is_pinned_to_a_commit_with_its_version() -> None:
    seen = 0
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _USES.match(line)
            if not match:
                continue
            ref, where = match.group("ref"), f"{path.name}:{number}"
            if ref.startswith(("$/", "./")):
                target = ROOT / ref[2:]
                assert target.is_file(), f"{where}: {ref} does not exist"
                continue
            seen += 1
            assert _PINNED.match(ref), f"{where}: {ref} is not pinned to a full 40-hex commit"
            assert _VERSION_COMMENT.match(match.group("rest")), f"{where}: {ref} needs a `# vX.Y.Z` comment"
    assert seen >= 6


def test_trivy_binary_version_is_pinned() -> None:
    trivy = [
        (p, s) for p, _, _, s in steps() if str(s.get("uses", "")).startswith("aquasecurity/trivy-action@")
    ]
    assert trivy
    for path, step in trivy:
        version = str(step["with"]["version"])
        if version.startswith("${{"):
            # Reusable workflows take it as an input whose default must itself be a pinned version.
            name = re.search(r"inputs\.([\w-]+)", version)
            assert name, f"{path.name}: Trivy version {version!r}"
            version = str(load(path)["on"]["workflow_call"]["inputs"][name.group(1)]["default"])
        assert re.fullmatch(r"v\d+\.\d+\.\d+", version), (
            f"{path.name}: Trivy version {version!r} is not pinned"
        )


def test_top_level_permissions_are_empty() -> None:
    for path in WORKFLOWS:
        assert load(path).get("permissions") == {}, f"{path.name}: needs `permissions: {{}}` at the top"


def test_write_access_only_where_needed() -> None:
    for path, name, job in jobs():
        for scope, level in (job.get("permissions") or {}).items():
            if level == "write":
                assert (path.name, name, scope) in WRITE_GRANTS, f"{path.name}:{name} grants {scope}: write"


def test_every_job_has_a_timeout_and_a_concurrency_group() -> None:
    for path, name, job in jobs():
        if "uses" in job:  # a call to a reusable workflow: its own jobs carry both
            continue
        assert isinstance(job.get("timeout-minutes"), int), f"{path.name}:{name} needs timeout-minutes"
        assert job.get("concurrency"), f"{path.name}:{name} needs concurrency"
        assert "permissions" in job, f"{path.name}:{name} needs its own permissions"


def test_entry_workflows_have_a_concurrency_group() -> None:
    for path in WORKFLOWS:
        workflow = load(path)
        if "workflow_call" not in workflow["on"]:
            assert workflow.get("concurrency"), f"{path.name} needs a workflow-level concurrency group"


def test_deploys_are_never_cancelled() -> None:
    for path, name, job in jobs():
        if "environment" in job:
            assert job["concurrency"]["cancel-in-progress"] is False, f"{path.name}:{name}"
    for name in ("deploy.yml", "release.yml"):
        assert load(ROOT / ".github" / "workflows" / name)["concurrency"]["cancel-in-progress"] is False


def test_checkout_never_keeps_credentials() -> None:
    checkouts = [
        (p, n, s) for p, n, _, s in steps() if str(s.get("uses", "")).startswith("actions/checkout@")
    ]
    assert checkouts
    for path, name, step in checkouts:
        assert (step.get("with") or {}).get("persist-credentials") is False, f"{path.name}:{name}"


def test_no_expressions_inside_run() -> None:
    for path, name, _, step in steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{path.name}:{name}: pass `{step['run']}` values through env:"


def test_secrets_only_in_steps_of_jobs_with_an_environment() -> None:
    for path, name, job in jobs():
        for step in job.get("steps", []):
            for key, value in (step.get("env") or {}).items():
                if "secrets." in str(value):
                    assert "environment" in job, f"{path.name}:{name}: {key} outside an environment"
        for key in ("env", "with"):
            assert "secrets." not in str(job.get(key, "")), f"{path.name}:{name}: secrets at job level"


def test_every_run_step_is_one_command() -> None:
    for where, words in run_commands():
        assert words, where
        assert words[0] in {"pipeline", "make"}, (
            f"{where}: `{shlex.join(words)}` is not a pipeline or make call"
        )
        lexer = shlex.shlex(" ".join(shlex.quote(w) for w in words), punctuation_chars=True)
        assert not {"&&", "||", ";", "|", "&"} & set(lexer), f"{where}: one command per step"


def test_make_targets_exist() -> None:
    targets = make_targets()
    for where, words in run_commands():
        if words[0] == "make":
            assert len(words) == 2 and words[1] in targets, f"{where}: no make target {words[1:]}"


# Variables whose values are not names: a duration, a URL.
PLAUSIBLE = {"WATCH": "10m", "PROMETHEUS_URL": "http://127.0.0.1:9090"}


def test_pipeline_commands_exist() -> None:
    """Every `pipeline ...` in a workflow parses with the real CLI."""
    for where, words in run_commands():
        if words[0] != "pipeline":
            continue
        _, leaf = resolve(words[1:])
        assert leaf, f"{where}: `{shlex.join(words)}` does not exist"
        # Shell variables hold runtime values (app names, paths, ids): parse with a plausible one.
        args = [re.sub(r"\$\{?(\w+)\}?", lambda m: PLAUSIBLE.get(m.group(1), "example-app"), w) for w in words[1:]]
        try:
            build_parser().parse_args(args)
        except SystemExit:
            pytest.fail(f"{where}: `{shlex.join(words)}` is rejected by the real parser")


def _make_ci_steps() -> list[tuple[str, ...]]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^ci-steps:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert recipe, "Makefile needs the ci-steps target"
    out = []
    for line in recipe.group(1).splitlines():
        words = shlex.split(
            line.strip().replace("$(BIN)/", "").replace("$(MAKE) --no-print-directory", "make")
        )
        out.append(_command_key(words))
    return out


def _command_key(words: list[str]) -> tuple[str, ...]:
    """`make <target>`, or `pipeline` and its sub-command path (flags and values dropped)."""
    if words[0] == "make":
        return ("make", words[1])
    path, _ = resolve(words[1:])
    if not path:
        path = tuple(words[1:2])
    return ("pipeline", *path)


def test_make_ci_runs_the_pull_request_sequence() -> None:
    """`make ci` and the workflow's pipeline job run the same commands in the same order; the workflow only
    adds plumbing that has no meaning on a laptop (install, layer cache, PR number, the report step)."""
    workflow = [
        _command_key(w) for _, w in run_commands(ROOT / ".github/workflows/reusable-pr.yml", "pipeline")
    ]
    local = _make_ci_steps()
    position = 0
    for command in local:
        assert command in workflow[position:], (
            f"`make ci` runs {command} which the workflow does not, in order"
        )
        position = workflow.index(command, position) + 1
    plumbing = [c for c in workflow if c not in local]
    for command in plumbing:
        assert command in {("make", "install"), ("pipeline", "report")} or command[:2] == (
            "pipeline",
            "ci",
        ), f"the workflow runs {command} which `make ci` does not"


def test_report_artifact_is_what_the_comment_workflow_downloads() -> None:
    reusable = load(ROOT / ".github/workflows/reusable-pr.yml")
    default_name = reusable["on"]["workflow_call"]["inputs"]["artifact-name"]["default"]
    comment = load(ROOT / ".github/workflows/pr-comment.yml")
    downloads = [s for s in comment["jobs"]["comment"]["steps"] if "download-artifact" in str(s.get("uses"))]
    assert downloads[0]["with"]["name"] == default_name
    assert comment["on"]["workflow_run"]["workflows"] == [load(ROOT / ".github/workflows/pr.yml")["name"]]
    uploaded = reusable["jobs"]["pipeline"]["steps"][-1]["with"]["path"]
    for needed in (
        "reports/*.md",
        "reports/*.json",
        "reports/*.txt",
        "reports/plots/*.png",
        "reports/data_docs/",
    ):
        assert needed in uploaded


def test_docs_only_changes_do_not_retrain() -> None:
    for name in ("pr.yml", "deploy.yml"):
        on = load(ROOT / ".github" / "workflows" / name)["on"]
        for event in ("pull_request", "push"):
            if event in on:
                assert "docs/**" in on[event]["paths-ignore"], f"{name}: {event} must ignore docs/**"


def test_no_workflow_relaxes_the_scan_policy() -> None:
    """`--allow-missing` exists for local runs without Trivy; a workflow must never use it."""
    for where, words in run_commands():
        assert "--allow-missing" not in words, f"{where}: the workflows always run every required scanner"
