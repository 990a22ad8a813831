"""End to end with the real serving image (the project's Dockerfile), built once per session by the
serving tests' own fixtures, deployed to heroku-local through the full production flow: a real model
answers the smoke test's /predict, and the model hash it reports must be the one the build used.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def test_full_deploy_of_the_real_serving_image_then_a_rollback(
    cli, make_app, platform, serving_image, build_context, images, tmp_path
):
    app = make_app("real", boot_timeout=90)  # a real model takes longer to load than the 3 s tests use
    # -C the build context: its models/model.json describes the model baked into the image.
    deployed = cli("deploy", "--app", app, "--image", serving_image.id, root=build_context)

    assert deployed.returncode == 0, deployed.stderr
    record = json.loads((tmp_path / "records" / f"deploy-{app}.json").read_text())
    assert record["smoke"]["passed"] and record["smoke"]["predict_status"] == 200
    assert record["model_sha256"] == serving_image.model_sha256
    assert record["images"][0]["config_digest"] == serving_image.id

    broken = cli("deploy", "--app", app, "--image", images["badshape"], root=build_context)
    assert broken.returncode == 1 and "rolled back to v1" in broken.stderr, broken.stderr
    ready = platform.http.get(platform.web_url(app) + "ready", timeout=10).json()
    assert ready["model_sha256"] == serving_image.model_sha256
