from __future__ import annotations

import gc
from pathlib import Path

import pytest

from pipeline.cli import main


def test_serve_with_bad_environment_is_one_line_exit_3(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PORT", "99999")
    monkeypatch.setenv("WEB_CONCURRENCY", "zero")
    assert main(["serve"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "PORT must be <= 65535" in err and "WEB_CONCURRENCY must be a number" in err


def test_image_build_without_engine_is_exit_4(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert main(["image", "build", "-q"]) == 4
    assert "Docker engine not reachable" in capsys.readouterr().err


def test_image_run_rejects_malformed_env_with_usage_exit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["image", "run", "some:image", "--env", "NOEQUALS"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_serve_with_missing_contract_is_one_line_exit_3(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CONTRACT_PATH", str(tmp_path / "absent.json"))
    assert main(["serve"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "absent.json: expectation suite not found" in err
    assert gc.isenabled()
