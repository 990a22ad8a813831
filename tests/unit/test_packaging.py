"""What ships where: one distribution with two packages (the tool and heroku-local), heroku-local's web stack
only in its extra, and a production image that copies the tool's package and not heroku-local."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WEB_STACK = {"starlette", "uvicorn", "httpx"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_heroku_local_is_its_own_package_script_and_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["heroku-local"] == "heroku_local.cli:main"
    assert "heroku_local*" in project["tool"]["setuptools"]["packages"]["find"]["include"]
    extras = project["project"]["optional-dependencies"]
    assert _names(extras["heroku-local"]) >= WEB_STACK
    assert not WEB_STACK & _names(project["project"]["dependencies"])
    assert any("heroku-local" in r for r in extras["dev"] if r.startswith("mlops-ci-pipeline["))
    assert project["tool"]["importlinter"]["root_packages"] == ["pipeline", "model_server", "heroku_local"]


def test_the_production_image_does_not_carry_heroku_local():
    allowed = [line[1:].strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert "model_server/" in allowed and not [a for a in allowed if "heroku" in a or "pipeline" in a]
    copied = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.strip().startswith("COPY")]
    assert copied and not [line for line in copied if "heroku" in line]
    assert not (ROOT / "pipeline" / "heroku_local").exists()
