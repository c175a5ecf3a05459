"""Schemathesis against our own /api/v1/openapi.json, as a Finance and an Engineering token:
no server error, no response outside its schema, no status or content type the schema does
not list. Bounded: `MAX_EXAMPLES` generated requests per operation, derandomized."""

from __future__ import annotations

from collections import Counter

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from django.core import signals  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import close_old_connections  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from spendapp.api import tokens  # noqa: E402

from .conftest import token_for  # noqa: E402

pytestmark = pytest.mark.django_db
MAX_EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]


@pytest.fixture
def wsgi_app(monkeypatch):
    # In-process, inside the test's transaction: keep the connection open across requests,
    # as Django's own test client does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    monkeypatch.setattr(tokens, "RATE_LIMIT", 10**9)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _exercise(operation, headers: dict, counts: Counter) -> None:
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def run(case):
        response = case.call(headers=headers)
        counts[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _run(app, raw: str) -> dict[str, Counter]:
    # identity: the in-process WSGI client does not undo the GZip middleware's compression.
    headers = {"Authorization": f"Bearer {raw}", "Accept-Encoding": "identity"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    assert schema.raw_schema["openapi"] == "3.1.0"
    statuses: dict[str, Counter] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        _exercise(operation, headers, statuses.setdefault(operation.label, Counter()))
    return statuses


@pytest.mark.parametrize("who", ["finance", "engineering"])
def test_the_api_conforms_to_its_own_schema(wsgi_app, spend_data, bob, erin, who):
    user, scopes = {
        "finance": (bob, ("read", "budgets:write", "allocation:write", "scenarios:write")),
        "engineering": (erin, ("read", "scenarios:write")),
    }[who]
    statuses = _run(wsgi_app, token_for(user, scopes))
    # Not vacuous: the read operations answered 200 to generated requests.
    for label in (
        "GET /api/v1/budgets",
        "GET /api/v1/providers/accounts",
        "GET /api/v1/forecasts/month",
        "GET /api/v1/scenarios/presets",
    ):
        assert statuses[label][200] > 0, (label, statuses[label])
    assert sum(statuses["GET /api/v1/spend"].values()) >= MAX_EXAMPLES // 2
    if who == "engineering":
        assert set(statuses["POST /api/v1/budgets"]) <= {400, 403}
        assert statuses["POST /api/v1/budgets"][403] > 0
