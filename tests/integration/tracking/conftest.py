"""A real MLflow server for the tracking tests, started once per session (see tests/mlflow_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.mlflow_server import MlflowServer, mlflow_server


@pytest.fixture(scope="session")
def mlflow_server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """Started, not yet waited for: request it before a slow fixture (`repo`) and both make progress."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="session")
def tracking_uri(mlflow_server_process: MlflowServer) -> str:
    return mlflow_server_process.wait()
