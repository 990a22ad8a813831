"""pipeline/git.py: the one git reader, against a real repository in tmp_path."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline import git


def _repo(root: Path) -> str:
    def sh(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout
    root.mkdir()
    sh("init", "-q")
    (root / "metrics.json").write_text('{"accuracy": 0.9}\n')
    sh("add", "metrics.json")
    sh("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "one")
    sh("remote", "add", "origin", "https://x-access-token:ghs_s3cr3t@github.com/octo/ml-app.git")
    return sh("rev-parse", "HEAD").strip()


def test_head_commit_origin_and_files_at_a_revision(tmp_path: Path) -> None:
    head = _repo(tmp_path / "repo")
    assert git.head_commit(tmp_path / "repo", env={}) == head
    assert git.head_commit(tmp_path / "repo", env={"GITHUB_SHA": "f" * 40}) == "f" * 40
    assert git.origin_url(tmp_path / "repo") == "https://github.com/octo/ml-app.git"
    assert git.show(tmp_path / "repo", "HEAD", "metrics.json") == '{"accuracy": 0.9}\n'
    assert git.show(tmp_path / "repo", "HEAD", "absent.json") is None
    assert git.show(tmp_path / "repo", "no-such-rev", "metrics.json") is None


def test_outside_a_checkout_every_answer_is_none(tmp_path: Path) -> None:
    assert git.head_commit(tmp_path, env={}) is None
    assert git.origin_url(tmp_path) is None
    assert git.show(tmp_path, "main", "metrics.json") is None
