"""Run the project's real workflow files with act (nektos/act, pinned in the dev extra) in host mode.

Every `run:` step of ours runs for real on this machine (its Python 3.11, Docker engine and git). What needs the
internet is replaced by act's own flags only: each pinned `uses:` maps to a stand-in under `standins/`
(`--local-repository`), GitHub's REST API to `tests/github_standin.py` (`GITHUB_API_URL`), Heroku to the local
Heroku-compatible target (`HEROKU_API_URL` / `HEROKU_REGISTRY`). The only edit to the workflows is made to the
temporary copy, for act's known gap, and is listed in `ACT_GAPS` (and in tests/README.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.conftest import BIN, copy_tracked_files

ACT = BIN / "act"
STANDINS = Path(__file__).parent / "standins"
REPOSITORY = "octo-org/octo-model"
GIT = ["git", "-c", "user.email=dev@example.com", "-c", "user.name=dev"]
_PINNED = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
# act 0.2.89 does not understand GitHub's self-repository form `uses: $/...` (nektos/act#6189); the copy act runs
# gets the equivalent local path. Nothing else in a workflow is changed.
ACT_GAPS = {"uses: $/.github/workflows/": "uses: ./.github/workflows/"}
# act copies the repository under test into the job's workspace itself when a workflow checks out its own code.
BUILT_IN = {"actions/checkout"}


def local_repository_flags(workflows: Path) -> list[str]:
    """`--local-repository owner/name@sha=standin` for every pinned action the workflows use."""
    flags: list[str] = []
    for action, sha in sorted({m.groups() for f in workflows.glob("*.yml") for m in _PINNED.finditer(f.read_text())}):
        if action in BUILT_IN:
            continue
        standin = STANDINS / action.split("/")[1]
        if not (standin / "action.yml").is_file():
            raise AssertionError(f"{action} has no stand-in in {STANDINS}: add one (see its README)")
        flags += ["--local-repository", f"{action}@{sha}={standin}"]
    return flags


def git(root: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()


def make_repository(root: Path) -> Path:
    """The project's tracked files as a fresh git repository on `main`, with a GitHub-shaped origin."""
    copy_tracked_files(root)
    for workflow in (root / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        for gap, rewrite in ACT_GAPS.items():
            text = text.replace(gap, rewrite)
        workflow.write_text(text)
    git(root, "init", "-q", "-b", "main")
    # act derives GITHUB_REPOSITORY from the origin remote.
    git(root, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the project")
    return root


@dataclass
class ActRun:
    returncode: int
    output: str
    artifacts: Path
    workspace_root: Path

    def artifact(self, name: str) -> Path:
        path = self.artifacts / name
        assert path.is_dir(), f"no artifact {name!r}; uploaded: {sorted(p.name for p in self.artifacts.iterdir())}"
        return path

    def ran(self, step: str) -> bool:
        return f"⭐ Run Main {step}" in self.output

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


@dataclass
class Act:
    """One act invocation per call, all sharing the stand-ins, the API stand-in and the machine's caches."""

    work: Path
    api_url: str
    token: str
    env: dict[str, str] = field(default_factory=dict)
    vars: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def but(self, **changes: Any) -> Act:
        """The same runner with more variables, secrets or environment (e.g. a deploy target)."""
        return replace(self, env={**self.env, **changes.get("env", {})}, vars={**self.vars, **changes.get("vars", {})},
                       secrets={**self.secrets, **changes.get("secrets", {})})

    def run(self, repo: Path, event: str, payload: dict[str, Any], workflow: str, *,
            timeout: float = 1500) -> ActRun:
        run_dir = Path(tempfile.mkdtemp(prefix=f"{workflow.removesuffix('.yml')}-", dir=self.work))
        artifacts = run_dir / "artifacts"
        artifacts.mkdir()
        event_file = run_dir / "event.json"
        event_file.write_text(json.dumps(payload), encoding="utf-8")
        cmd = [
            str(ACT), event, "-W", f".github/workflows/{workflow}", "-e", str(event_file),
            "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode",
            "--action-cache-path", str(run_dir / "act"),
            *local_repository_flags(repo / ".github" / "workflows"),
            # Artifacts per run; the cache store is shared by every run of this runner, as a repository's is.
            "--env", f"STANDIN_ARTIFACTS={artifacts}", "--env", f"STANDIN_CACHE={self.work / 'cache'}",
            "--env", f"GITHUB_API_URL={self.api_url}",
            "--secret", f"GITHUB_TOKEN={self.token}",
        ]
        for name, value in self.env.items():
            cmd += ["--env", f"{name}={value}"]
        for name, value in self.vars.items():
            cmd += ["--var", f"{name}={value}"]
        for name, value in self.secrets.items():
            cmd += ["--secret", f"{name}={value}"]
        # The jobs must find the machine's python3, docker and make, never the test suite's own venv: each job
        # installs the project into its workspace with `make install`, as on a runner.
        path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if Path(p) != BIN)
        env = {**os.environ, "PATH": path}
        env.pop("VIRTUAL_ENV", None)
        result = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)
        return ActRun(result.returncode, result.stdout + result.stderr, artifacts, run_dir / "act")


def sdist_builds() -> set[str]:
    """The builds of index packages from source in uv's cache, one directory each (pypi/<name>/<version>/<build>).

    Every workflow job runs `make install` in its own workspace; where uv rebuilds an sdist per job (pyspark: 1.3 GB
    each) the tier fills a CI disk, so the Makefile hands uv prebuilt wheels and the tier checks none was built.
    """
    out = subprocess.run([str(BIN / "uv"), "cache", "dir"], capture_output=True, text=True, check=True, timeout=30)
    cache = Path(out.stdout.strip())
    return {str(build.relative_to(cache)) for build in cache.glob("sdists-*/pypi/*/*/*") if build.is_dir()}


def pull_request_event(number: int, head_sha: str, *, head_repo: str = REPOSITORY,
                       branch: str = "feature") -> dict[str, Any]:
    repo = {"full_name": REPOSITORY, "default_branch": "main", "fork": False}
    head = {"full_name": head_repo, "fork": head_repo != REPOSITORY}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": branch, "sha": head_sha, "repo": head},
            "base": {"ref": "main", "repo": repo},
        },
        "repository": repo,
    }


def workflow_run_event(run_id: int, head_sha: str, conclusion: str, *, head_repo: str = REPOSITORY,
                       branch: str = "feature") -> dict[str, Any]:
    repo = {"full_name": REPOSITORY, "default_branch": "main", "fork": False}
    return {
        "action": "completed",
        "workflow_run": {
            "id": run_id, "name": "Pull request", "event": "pull_request", "conclusion": conclusion,
            "head_sha": head_sha, "head_branch": branch, "head_repository": {"full_name": head_repo},
            "html_url": f"https://github.test/{REPOSITORY}/actions/runs/{run_id}",
        },
        "repository": repo,
    }


def push_event(ref: str, sha: str) -> dict[str, Any]:
    return {
        "ref": ref, "after": sha, "before": "0" * 40,
        "repository": {"full_name": REPOSITORY, "default_branch": "main"},
        "head_commit": {"id": sha},
    }
