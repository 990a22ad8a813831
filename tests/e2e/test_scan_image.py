"""The scan gate on images built on the real Docker engine: a root image with baked-in secrets and a
clean non-root one. Skips with a how-to when no engine answers; fails instead when CI=true.
"""

from __future__ import annotations

import functools
import gc
import http.server
import json
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.gates.scan_policy import ScanPolicy
from pipeline.scan.run import scan_image
from tests.conftest import engine_unavailable

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "scan"
BIN = Path(sys.executable).parent
BASE = "local/python-base:3.11"
TAG = f"scantest-{os.getpid()}"
AWS_KEY = "AKIA" + "Z7VQ4KXDM2PLR5TN"
PRIVATE_KEY = (
    "-----BEGIN "
    + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END "
    + "OPENSSH PRIVATE KEY-----\n"
)
DB_PASSWORD = "pw-" + "Vq8rT2xL9mZ4"

# A root image that bakes a credential into one layer and deletes it in the next (it still ships),
# keeps a private key, sets a secret ENV, leaves a compiler and apt lists, ADDs a remote URL, no labels.
BAD = """\
FROM {base}
ENV DB_PASSWORD={password}
COPY credentials /root/.aws/credentials
RUN rm /root/.aws/credentials
COPY id_ed25519 /app/id_ed25519
RUN printf '#!/bin/sh\\nexit 0\\n' > /usr/bin/gcc && chmod +x /usr/bin/gcc \\
 && echo 'Package: demo' > /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages
ADD {url} /opt/model.txt
CMD ["python3"]
"""

# What a release image should look like: a venv, labels, a non-root user, nothing else.
GOOD = """\
FROM {base}
LABEL org.opencontainers.image.title="penguins" \\
      org.opencontainers.image.source="https://example.org/penguins" \\
      org.opencontainers.image.revision="0123456789abcdef"
RUN python3 -m venv /opt/venv
COPY --chown=10001:10001 app.py /app/app.py
USER 10001:10001
CMD ["/opt/venv/bin/python", "/app/app.py"]
"""


def _connect() -> tuple[Any, str]:
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
        client.images.get(BASE)
    except Exception as exc:  # any reason the engine or the stand-in base image is not there
        return None, str(exc).splitlines()[0][:200]
    return client, ""


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    with warnings.catch_warnings():
        # A client that failed to connect leaves its socket to the garbage collector: close it here,
        # quietly, rather than as a ResourceWarning (an error under filterwarnings) at exit.
        warnings.simplefilter("ignore", ResourceWarning)
        client, reason = _connect()
        gc.collect()
    if client is None:
        engine_unavailable(f"the Docker engine or {BASE} is not available ({reason})", "the scan tests")
    yield client
    client.close()


@pytest.fixture(scope="session")
def remote_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL on loopback for `ADD <url>`: the engine downloads it itself, as it would from the internet."""
    root = tmp_path_factory.mktemp("http")
    (root / "model.txt").write_text("weights\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.txt"
    server.shutdown()
    server.server_close()


def _build(client: Any, context: Path, tag: str) -> Any:
    image, _ = client.images.build(path=str(context), tag=tag, rm=True, forcerm=True, network_mode="host")
    return image


@pytest.fixture(scope="session")
def images(
    engine: Any, remote_file: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    bad_ctx = tmp_path_factory.mktemp("bad")
    (bad_ctx / "Dockerfile").write_text(BAD.format(base=BASE, password=DB_PASSWORD, url=remote_file))
    (bad_ctx / "credentials").write_text(f"[default]\naws_access_key_id = {AWS_KEY}\n")
    (bad_ctx / "id_ed25519").write_text(PRIVATE_KEY)
    good_ctx = tmp_path_factory.mktemp("good")
    (good_ctx / "Dockerfile").write_text(GOOD.format(base=BASE))
    (good_ctx / "app.py").write_text("print('ok')\n")
    built = {
        "bad": _build(engine, bad_ctx, f"scantest/scan-bad:{TAG}"),
        "good": _build(engine, good_ctx, f"scantest/scan-good:{TAG}"),
        "bad_dockerfile": bad_ctx / "Dockerfile",
        "good_dockerfile": good_ctx / "Dockerfile",
    }
    yield built
    for name in (f"scantest/scan-bad:{TAG}", f"scantest/scan-good:{TAG}"):
        engine.images.remove(name, force=True)


@pytest.fixture(scope="session")
def bad_scan(images: dict[str, Any]) -> Any:
    return scan_image(f"scantest/scan-bad:{TAG}", ScanPolicy())


@pytest.fixture(scope="session")
def good_scan(images: dict[str, Any]) -> Any:
    return scan_image(f"scantest/scan-good:{TAG}", ScanPolicy())


def test_root_image_facts_are_all_found(bad_scan: Any, images: dict[str, Any]) -> None:
    found = {(f.id, f.package) for f in bad_scan.findings if f.scanner == "image"}
    assert {
        ("image.root-user", "config.User"),
        ("image.compiler", "/usr/bin/gcc"),
        ("image.package-cache", "/var/lib/apt/lists"),
    } <= found
    assert {p for i, p in found if i == "image.missing-label"} == set(ScanPolicy().required_labels)
    (remote,) = [f for f in bad_scan.findings if f.id == "image.remote-add"]
    assert remote.package.startswith("remote source sha256:")  # the classic builder keeps only a checksum
    assert bad_scan.image_id == images["bad"].id


def test_secrets_baked_into_layers_are_found_even_when_deleted_later(bad_scan: Any) -> None:
    secrets = {f.package: f for f in bad_scan.findings if f.kind == "secret"}
    assert set(secrets) == {"/root/.aws/credentials", "/app/id_ed25519", "ENV DB_PASSWORD"}
    aws = secrets["/root/.aws/credentials"]
    assert aws.id == "secret.aws-access-key" and "deleted by a later layer" in aws.title
    assert aws.location.startswith("/root/.aws/credentials in layer 2/6 sha256:")  # base, then COPY
    assert secrets["/app/id_ed25519"].id == "secret.private-key"
    text = json.dumps([f.__dict__ for f in bad_scan.findings], default=str)
    assert AWS_KEY not in text and DB_PASSWORD not in text and "b3BlbnNzaC1rZXkt" not in text


def test_non_root_release_image_has_no_findings_and_a_valid_sbom(good_scan: Any) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert good_scan.findings == []
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(good_scan.sbom_json) is None
    components = json.loads(good_scan.sbom_json)["components"]
    venv_pip = [
        c
        for c in components
        if c["name"] == "pip" and c["properties"][0]["value"] == "/opt/venv/lib/python3.11/site-packages"
    ]
    assert len(venv_pip) == 1 and venv_pip[0]["purl"].startswith("pkg:pypi/pip@")
    assert any(c["purl"].startswith("pkg:deb/debian/libc6@") for c in components)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GITHUB_ACTIONS", None)
    return subprocess.run(
        [str(BIN / "pipeline"), "-C", str(root), "scan", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _project(tmp_path: Path, dockerfile: Path, image_id: str) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "Dockerfile").write_text(dockerfile.read_text())
    (root / "scan-policy.yaml").write_text((REPO / "scan-policy.yaml").read_text())
    trivy = json.loads((DATA / "trivy-clean.json").read_text())
    trivy["Metadata"]["ImageID"] = image_id  # Trivy ran on this very image
    (root / "trivy.json").write_text(json.dumps(trivy, indent=2))
    return root


def test_cli_passes_the_release_image_and_writes_all_four_reports(
    images: dict[str, Any], tmp_path: Path
) -> None:
    root = _project(tmp_path, images["good_dockerfile"], images["good"].id)
    result = _cli(root, "--image", f"scantest/scan-good:{TAG}", "--trivy-report", "trivy.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "scan gate passed: 1 findings, 0 waived, scanners hadolint, image, secrets, trivy"
    )
    out = root / "reports" / "scan"
    assert sorted(p.name for p in out.iterdir()) == [
        "findings.json",
        "sbom.cdx.json",
        "scan.md",
        "scan.sarif",
    ]
    assert json.loads((out / "findings.json").read_text())["inputs"]["image_id"] == images["good"].id


def test_cli_blocks_the_image_with_secrets_and_leaks_none(images: dict[str, Any], tmp_path: Path) -> None:
    root = _project(tmp_path, images["bad_dockerfile"], images["bad"].id)
    result = _cli(root, "--image", f"scantest/scan-bad:{TAG}", "--trivy-report", "trivy.json")
    assert result.returncode == 1, result.stderr
    out = root / "reports" / "scan"
    md = (out / "scan.md").read_text()
    assert "secret.aws-access-key" in md and "image.root-user" in md
    for path in [*out.iterdir()]:
        text = path.read_text()
        assert AWS_KEY not in text and DB_PASSWORD not in text, path.name
    assert AWS_KEY not in result.stderr + result.stdout


def test_cli_refuses_a_trivy_report_of_another_image(images: dict[str, Any], tmp_path: Path) -> None:
    root = _project(tmp_path, images["good_dockerfile"], images["bad"].id)
    result = _cli(root, "--image", f"scantest/scan-good:{TAG}", "--trivy-report", "trivy.json")
    assert result.returncode == 3
    assert "the Trivy report is for image" in result.stderr and result.stderr.count("\n") == 1
