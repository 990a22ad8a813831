"""A DVC remote over the real S3 protocol (moto's S3 server on loopback): data and model round-trip
with configuration only, no code changes."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import sh

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail("moto S3 server did not start")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_push_and_pull_through_an_s3_remote(repo: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="models")
    # What a user types: no code changes, configuration only.
    sh(repo, "dvc", "remote", "add", "s3store", "s3://models/penguins")
    sh(repo, "dvc", "remote", "modify", "s3store", "endpointurl", s3_endpoint)
    sh(repo, "dvc", "push", "-r", "s3store")
    tracked = [repo / "data/raw/penguins.csv", repo / "models/model.skops"]
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tracked}
    shutil.rmtree(repo / ".dvc" / "cache")
    for p in tracked:
        p.unlink()
    sh(repo, "dvc", "pull", "-r", "s3store")
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in tracked} == before
    listed = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").list_objects_v2(
        Bucket="models", Prefix="penguins/")
    assert listed["KeyCount"] > 0
