"""The app's live-model metrics over HTTP (the real app, the tiny model exported with its drift reference):
readiness, the drift window, prediction shift, missing rates and contract breaches, labelled by model and release."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from model_server.contract import DataContract
from model_server.model_meta import ServingMeta
from tests.servekit import FEATURES, GOOD, synthetic_frame

pytestmark = pytest.mark.integration

RELEASE = "v42"


def scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def by_feature(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> dict[str, float]:
    return {labels["feature"]: value for labels, value in samples.get(name, [])}


def clean(contract: DataContract, rows: int) -> list[dict[str, Any]]:
    """Records drawn as the tiny model's training rows were, with another seed: no drift."""
    return synthetic_frame(contract, rows=rows, seed=11)[FEATURES].to_dict("records")  # type: ignore[return-value]


@pytest.fixture
def drift_client(make_app: Callable[..., Any]) -> Callable[..., TestClient]:
    def make(**overrides: Any) -> TestClient:
        values = {"drift_window": 50, "drift_min_records": 20, "drift_refresh_seconds": 0,
                  "heroku_release_version": RELEASE, **overrides}
        return TestClient(make_app(**values))
    return make


def test_the_export_ships_the_reference_with_the_model(model_files: Any) -> None:
    meta = ServingMeta.read(model_files / "serving.json")
    ref = meta.drift_reference
    assert ref is not None
    assert [f.feature for f in ref.features] == list(meta.model.features)
    assert ref.predictions.classes == meta.model.classes
    assert sum(ref.predictions.weights) == pytest.approx(1.0)


def test_ready_model_is_labelled_with_its_hash_and_release(drift_client: Callable[..., TestClient],
                                                             model_files: Any) -> None:
    client = drift_client()
    sha = ServingMeta.read(model_files / "serving.json").model.sha256
    samples = scrape(client)
    assert samples["model_ready"] == [({"model_hash": sha, "release": RELEASE}, 1.0)]
    assert samples["model_drift_window_records"] == [({"model_hash": sha, "release": RELEASE}, 0.0)]
    # Below DRIFT_MIN_RECORDS there is no drift value at all, rather than noise.
    assert "model_drift_psi" not in samples and "model_prediction_shift_psi" not in samples


def test_drift_appears_at_the_minimum_and_separates_clean_from_shifted(
    drift_client: Callable[..., TestClient], contract: DataContract,
) -> None:
    calm, shifted = drift_client(drift_window=200), drift_client(drift_window=200)
    rows = clean(contract, 300)
    for row in rows[:19]:
        calm.post("/predict", json=row)
    assert "model_drift_psi" not in scrape(calm)
    calm.post("/predict", json=rows[19:])  # 281 more: the window keeps the last 200
    high = max(rows, key=lambda r: r["bill_length_mm"])["bill_length_mm"]
    shift = [{**row, "bill_length_mm": high, "island": "Torgersen", "sex": None} for row in rows[:200]]
    shifted.post("/predict", json=shift)
    a, b = scrape(calm), scrape(shifted)
    assert a["model_drift_window_records"][0][1] == b["model_drift_window_records"][0][1] == 200
    features = set(GOOD)
    for name in ("model_drift_psi", "model_drift_js", "model_missing_rate"):
        assert set(by_feature(a, name)) == features, name
    psi_a, psi_b = by_feature(a, "model_drift_psi"), by_feature(b, "model_drift_psi")
    assert max(psi_a.values()) < 0.25, psi_a  # the usual "no major shift" line
    assert psi_b["bill_length_mm"] > 1.0 and psi_b["island"] > 0.5
    assert by_feature(b, "model_missing_rate")["sex"] == 1.0
    assert by_feature(a, "model_missing_rate")["sex"] == 0.0
    assert "sex" not in psi_b  # missing in every record: no distribution, no value
    assert a["model_prediction_shift_psi"][0][1] < b["model_prediction_shift_psi"][0][1]


def test_contract_breaches_are_counted_per_feature_and_made_up_fields_add_no_series(
    drift_client: Callable[..., TestClient],
) -> None:
    client = drift_client()
    before = by_feature(scrape(client), "model_out_of_contract_total")
    assert before == dict.fromkeys(GOOD, 0.0)  # every feature exported from zero
    bad = [{**GOOD, "bill_length_mm": 1e9}, {**GOOD, "island": "Atlantis"}, {**GOOD, "sex": 3},
           {**GOOD, "bill_length_mm": -1.0, "nonsense field": 1}]
    assert client.post("/predict", json=bad).status_code == 422
    after = by_feature(scrape(client), "model_out_of_contract_total")
    assert after == {**before, "bill_length_mm": 2.0, "island": 1.0, "sex": 1.0}
    assert len(scrape(client)["model_out_of_contract_total"]) == len(GOOD)


def test_drift_off_exports_readiness_but_no_window(drift_client: Callable[..., TestClient]) -> None:
    client = drift_client(drift=False)
    for _ in range(30):
        client.post("/predict", json=GOOD)
    samples = scrape(client)
    assert samples["model_ready"][0][1] == 1.0
    assert not {"model_drift_psi", "model_drift_window_records", "model_prediction_shift_psi"} & set(samples)


def test_refused_model_reports_not_ready(make_app: Callable[..., Any], tampered_dir: Any) -> None:
    client = TestClient(make_app(model_dir=tampered_dir, heroku_release_version=RELEASE))
    samples = scrape(client)
    assert [v for _, v in samples["model_ready"]] == [0.0]
    assert "model_drift_window_records" not in samples
