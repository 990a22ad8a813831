from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from model_server.contract import DataContract
from model_server.schema import record_model, request_body
from pipeline.errors import ConfigError
from tests.servekit import FEATURES, GOOD


def _errors(contract: DataContract, payload: object, max_batch: int = 5) -> list[dict]:
    adapter = TypeAdapter(request_body(record_model(contract, FEATURES), max_batch))
    with pytest.raises(ValidationError) as err:
        adapter.validate_python(payload)
    return err.value.errors()


def test_schema_follows_the_contract(contract: DataContract) -> None:
    schema = record_model(contract, FEATURES).model_json_schema()
    props = schema["properties"]
    assert list(props) == FEATURES
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["island"]  # the only feature the contract says is never null
    assert props["island"]["enum"] == ["Biscoe", "Dream", "Torgersen"]
    bill = props["bill_length_mm"]["anyOf"][0]
    assert (bill["minimum"], bill["maximum"]) == (25, 70)


def test_valid_record_and_batch(contract: DataContract) -> None:
    adapter = TypeAdapter(request_body(record_model(contract, FEATURES), 5))
    assert adapter.validate_python(GOOD).island == "Biscoe"
    assert len(adapter.validate_python([GOOD, {"island": "Dream"}])) == 2


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"island": "Atlantis"}, "island", "literal_error"),
        ({"bill_length_mm": 700.0}, "bill_length_mm", "less_than_equal"),
        ({"bill_length_mm": "39.1"}, "bill_length_mm", "float_type"),
        ({"bill_length_mm": True}, "bill_length_mm", "float_type"),
        ({"bill_length_mm": float("nan")}, "bill_length_mm", "finite_number"),
        ({"sex": "unknown"}, "sex", "literal_error"),
        ({"wing_span": 3}, "wing_span", "extra_forbidden"),
    ],
)
def test_invalid_field_is_named(contract: DataContract, change: dict, field: str, kind: str) -> None:
    [error] = _errors(contract, {**GOOD, **change})
    assert error["loc"] == ("record", field)
    assert error["type"] == kind


def test_missing_required_field(contract: DataContract) -> None:
    [error] = _errors(contract, {"sex": "male"})
    assert (error["loc"], error["type"]) == (("record", "island"), "missing")


def test_batch_errors_point_at_the_record(contract: DataContract) -> None:
    [error] = _errors(contract, [GOOD, {**GOOD, "sex": "x"}])
    assert error["loc"] == ("batch", 1, "sex")


def test_batch_limits(contract: DataContract) -> None:
    assert _errors(contract, [])[0]["type"] == "too_short"
    assert _errors(contract, [GOOD] * 6, max_batch=5)[0]["type"] == "too_long"


def test_features_outside_the_contract_are_refused(contract: DataContract) -> None:
    with pytest.raises(ConfigError, match="wing_span"):
        record_model(contract, ["island", "wing_span"])
