"""`pipeline ci image-save | image-load` on the real Docker engine: the archive keeps the image id, and a load
that expects another id is refused (the hand-over between the build, deploy and promote jobs)."""

from __future__ import annotations

import io
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from pipeline.cli import main
from tests.conftest import engine_unavailable

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine() -> Any:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # any failure to reach the engine means "no Docker here"
        engine_unavailable(f"the Docker engine does not answer ({exc})", "the CI image tests")
    return client


@pytest.fixture
def image(engine: Any) -> Iterator[str]:
    """A tiny image built FROM scratch (no registry needed), removed afterwards."""
    tag = f"wf-test/ci-images:{uuid.uuid4().hex[:10]}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in (
            ("Dockerfile", b"FROM scratch\nCOPY hello.txt /hello.txt\n"),
            ("hello.txt", uuid.uuid4().hex.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    engine.images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    yield tag
    engine.images.remove(tag, force=True)


def outputs(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return {lines[i].split("<<")[0]: lines[i + 1] for i in range(0, len(lines), 3)}


def test_saved_image_loads_back_with_the_same_id(
    engine: Any, image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    archive = tmp_path / "image.tar"
    assert main(["ci", "image-save", "--image", image, "--out", str(archive)]) == 0
    image_id = outputs(out)["image_id"]
    assert image_id == engine.images.get(image).id

    engine.images.remove(image, force=True)
    out.unlink()
    assert main(["ci", "image-load", "--tar", str(archive), "--expect-id", image_id]) == 0
    assert outputs(out) == {"image_id": image_id, "image": image}
    assert engine.images.get(image).id == image_id


def test_load_refuses_an_archive_of_another_image(
    image: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = tmp_path / "image.tar"
    assert main(["ci", "image-save", "--image", image, "--out", str(archive)]) == 0
    assert main(["ci", "image-load", "--tar", str(archive), "--expect-id", "sha256:" + "0" * 64]) == 1
    assert "refusing to use it" in capsys.readouterr().err


def test_missing_and_broken_archives(engine: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ci", "image-load", "--tar", str(tmp_path / "none.tar"), "--missing-ok"]) == 0
    assert main(["ci", "image-load", "--tar", str(tmp_path / "none.tar")]) == 3
    broken = tmp_path / "broken.tar"
    broken.write_bytes(b"not a tar")
    assert main(["ci", "image-load", "--tar", str(broken)]) == 3
    assert main(["ci", "image-save", "--image", "wf-test/absent:nope", "--out", str(tmp_path / "x.tar")]) == 3
    err = capsys.readouterr().err
    assert "not found" in err and "not a loadable image archive" in err
