"""The real image on the real engine: Heroku's runtime contract ($PORT, any non-root uid, SIGTERM)."""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from pipeline.container import image
from tests.conftest import REPO
from tests.e2e.serve.conftest import REPOSITORY

pytestmark = pytest.mark.e2e

RECORD = {"island": "Biscoe", "bill_length_mm": 46.1, "bill_depth_mm": 13.2, "flipper_length_mm": 211.0,
          "body_mass_g": 4500.0, "sex": "female"}


def _stop(container: Any) -> tuple[float, int]:
    start = time.monotonic()
    container.stop(timeout=30)  # SIGTERM, then SIGKILL after 30 s as Heroku does
    code = container.wait(timeout=40)["StatusCode"]
    return time.monotonic() - start, code


def test_image_facts(docker_client: Any, serving_image: image.BuiltImage) -> None:
    attrs = docker_client.images.get(serving_image.id).attrs
    assert serving_image.id.startswith("sha256:") and len(serving_image.id) == 71
    assert (attrs["Os"], attrs["Architecture"]) == ("linux", "amd64")
    assert attrs["Config"]["User"] not in ("", "0", "root")
    assert attrs["Config"]["Cmd"] == ["python", "-m", "model_server"]
    assert attrs["Config"]["Labels"][image.MODEL_LABEL] == serving_image.model_sha256
    assert f"{REPOSITORY}:model-{serving_image.model_sha256[:12]}" in serving_image.tags
    probe = ("import importlib.util as u, shutil; "
             "print([m for m in ('dvc', 'great_expectations', 'matplotlib', 'pip', 'docker') if u.find_spec(m)], "
             "[c for c in ('gcc', 'cc', 'make') if shutil.which(c)])")
    out = docker_client.containers.run(serving_image.id, ["python", "-c", probe], remove=True).decode().strip()
    assert out == "[] []", f"build tools or pipeline-only packages in the image: {out}"


def test_the_image_holds_the_serving_core_only(docker_client: Any, serving_image: image.BuiltImage) -> None:
    """The Python packages in the image: the serving core's own code under /app, and exactly the distributions
    requirements/serve.txt pins; the `pipeline` tool (stages, gates, deploys, the Heroku stand-in) is absent."""
    probe = ("import json, pathlib, importlib.util as u, importlib.metadata as m; print(json.dumps(["
             "sorted(p.name for p in pathlib.Path('/app').iterdir() if p.is_dir() and (p / '__init__.py').is_file()),"
             "sorted({d.metadata['Name'].lower().replace('_', '-') for d in m.distributions()}),"
             "[n for n in ('pipeline', 'heroku_local') if u.find_spec(n)]]))")
    out = docker_client.containers.run(serving_image.id, ["python", "-c", probe], remove=True).decode()
    code, distributions, tool = json.loads(out)
    pinned = {line.split("==")[0].lower().replace("_", "-")
              for line in (REPO / "requirements/serve.txt").read_text().splitlines() if "==" in line}
    assert code == ["model_server"]
    assert set(distributions) == pinned, f"installed {sorted(set(distributions) ^ pinned)} differ from serve.txt"
    assert tool == []


def test_serves_on_port_as_random_non_root_user_and_stops_on_sigterm(
    start_container: Callable[..., Any], serving_image: image.BuiltImage
) -> None:
    uid = random.randint(20000, 60000)
    container, url = start_container(user=str(uid))
    assert container.exec_run("id -u").output.decode().strip() == str(uid)

    resp = requests.post(f"{url}/predict", json=[RECORD, {"island": "Dream"}], timeout=10)
    assert resp.status_code == 200
    body = resp.json()
    assert body["model_sha256"] == serving_image.model_sha256
    labels = [p["label"] for p in body["predictions"]]
    assert len(labels) == 2 and labels[0] == "Gentoo"
    version = requests.get(f"{url}/version", timeout=5).json()
    assert version["git_commit"] == "e2e0123456789abcdef"
    assert version["model"]["sha256"] == serving_image.model_sha256
    assert requests.post(f"{url}/predict", json={"island": "Mars"}, timeout=5).status_code == 422

    seconds, code = _stop(container)
    assert seconds < 30, f"took {seconds:.1f}s to stop after SIGTERM"
    assert code in (0, 143), f"exit code {code} after SIGTERM"
    lines = container.logs(stdout=True, stderr=False).decode().splitlines()
    logs = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(entry.get("route") == "/predict" and entry.get("request_id") for entry in logs)
    assert any("Finished server process" in entry["msg"] for entry in logs)


def test_two_workers_share_the_port_and_metrics(start_container: Callable[..., Any]) -> None:
    container, url = start_container(environment={"WEB_CONCURRENCY": "2"})
    with requests.Session() as session:
        for _ in range(20):
            assert session.post(f"{url}/predict", json=RECORD, timeout=10).status_code == 200
    text = requests.get(f"{url}/metrics", timeout=5).text
    served = [line for line in text.splitlines()
              if line.startswith('http_requests_total{') and 'route="/predict"' in line and 'status="200"' in line]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in served) == 20
    seconds, code = _stop(container)
    assert seconds < 30 and code in (0, 143)
    # Loaded once, before the workers were forked; not once per worker.
    messages = [json.loads(line)["msg"] for line in container.logs().decode().splitlines() if line.startswith("{")]
    assert sum(m.startswith("model ready") for m in messages) == 1, messages
    assert sum(m.startswith("Booting worker") for m in messages) == 2, messages


def test_the_image_ships_the_models_drift_reference_and_exports_drift(start_container: Callable[..., Any]) -> None:
    """The reference travels inside serving.json, which the image carries: drift is measured in the container."""
    features = json.loads((REPO / "models" / "serving.json").read_text())["model"]["features"]
    container, url = start_container(environment={
        "DRIFT_MIN_RECORDS": "5", "DRIFT_REFRESH_SECONDS": "0", "HEROKU_RELEASE_VERSION": "v3"})
    assert requests.post(f"{url}/predict", json=[RECORD] * 10, timeout=10).status_code == 200
    text = requests.get(f"{url}/metrics", timeout=5).text
    drifted = {line.split('feature="', 1)[1].split('"', 1)[0] for line in text.splitlines()
               if line.startswith("model_drift_psi{")}
    assert drifted == set(features)
    assert any(line.startswith("model_ready{") and 'release="v3"' in line and line.endswith(" 1.0")
               for line in text.splitlines())
    _stop(container)


def test_tampered_model_is_refused_without_crash_loop(
    start_container: Callable[..., Any], build_context: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(build_context / "models", models)
    blob = bytearray((models / "model.onnx").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (models / "model.onnx").write_bytes(bytes(blob))
    models.chmod(0o755)
    container, url = start_container(volumes={str(models): {"bind": "/app/models", "mode": "ro"}}, wait=False)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.2)
    ready = requests.get(f"{url}/ready", timeout=5)
    assert ready.status_code == 503
    assert "does not match" in ready.json()["reason"]
    assert requests.post(f"{url}/predict", json=RECORD, timeout=5).status_code == 503
    time.sleep(1)
    container.reload()
    assert container.status == "running"
    assert "model refused" in container.logs().decode()
