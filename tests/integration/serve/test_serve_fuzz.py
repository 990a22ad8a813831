"""Fuzz the API from its own OpenAPI schema (schemathesis, in process): no input may cause a 5xx,
and every response must match the documented status codes, content types and schemas.

Valid and invalid inputs are generated for every operation. Driven through Hypothesis directly
(not schemathesis' pytest plugin) so the schema can come from the app factory fixture.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.integration

# Per operation and mode. /predict gets positive and negative bodies: 2 x 1,000 cases.
EXAMPLES = {"POST /predict": 1000}
DEFAULT_EXAMPLES = 100


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_input_causes_a_server_error(make_app: Callable[..., Any], mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", make_app(max_batch=20))
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {"POST /predict", "GET /ready", "GET /version", "GET /metrics"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # our GET routes take no input: there is nothing invalid to send
        strategy = operation.as_strategy(generation_mode=mode)

        @given(case=strategy)
        @settings(max_examples=EXAMPLES.get(operation.label, DEFAULT_EXAMPLES), deadline=None,
                  suppress_health_check=list(HealthCheck), database=None)
        def fuzz(case: Any) -> None:
            response = case.call_and_validate()
            statuses[response.status_code] += 1
            assert response.status_code < 500

        fuzz()
    assert not [code for code in statuses if code >= 500]
    print(f"{mode.value}: {sum(statuses.values())} cases, statuses {dict(statuses)}")
