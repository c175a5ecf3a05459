"""Property-based contract test: the fake's OpenAI side against OpenAI's published schema.

Schemathesis generates requests from ``openapi-usage-costs.json`` (OpenAI's OpenAPI extract:
completions usage, costs, projects, project API keys), sends them to the fake over loopback
with the admin key, and checks every response against the published document:

* ``response_schema_conformance``: the body of a documented status (200, 429) matches its
  schema. This is the check that matters: the connector parses exactly these bodies;
* ``content_type_conformance``: a documented status comes as the documented media type;
* ``not_a_server_error``: no 5xx, whatever was generated.

``status_code_conformance`` is left out on purpose: OpenAI's document declares only 200 and
429, while the real API (and so the fake) answers 400 to invalid parameter combinations
(``limit`` out of range, ``end_time`` before ``start_time``, a bad ``page`` cursor) and 404
to an unknown project. Undocumented statuses carry no schema to check, so half the cases are
steered towards valid, data-bearing requests (a ``start_time`` inside the fake's data, a
``limit`` within the documented range, no made-up cursor, a project id that exists) and the
test asserts that each operation answered 200 often enough: it cannot pass vacuously.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SPEC = FIXTURES / "provider-examples" / "openai" / "openapi-usage-costs.json"


schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
)

from .conftest import END, get_ok, openai_client  # noqa: E402

MAX_EXAMPLES = 40  # per operation
MIN_OK = 10  # 200 responses required per operation
EXPECTED_OPERATIONS = {
    "GET /organization/usage/completions",
    "GET /organization/costs",
    "GET /organization/projects",
    "GET /organization/projects/{project_id}/api_keys",
}
# Documented maxima of `limit` per bucket width (the usage/costs descriptions).
LIMITS = {
    "GET /organization/usage/completions": {"1m": 1440, "1h": 168, "1d": 31},
    "GET /organization/costs": {"1d": 180},
}
DATA_END = int(datetime.strptime(END, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())
DATA_START = DATA_END - int(timedelta(days=120).total_seconds())
CHECKS = [response_schema_conformance, content_type_conformance, not_a_server_error]


def add_discriminator_mappings(doc: dict) -> int:
    """Give each ``discriminator`` without a ``mapping`` the one its branches imply.

    OpenAI's document discriminates the bucket results on ``object`` but gives no mapping,
    and OpenAPI's implicit mapping then expects the *schema name* as the value
    ("UsageCompletionsResult"), while the API (and OpenAI's own examples) send
    "organization.usage.completions.result", the single ``enum`` value of ``object`` in each
    branch. We make that intent explicit instead of dropping the discriminator.
    """
    added = 0

    def visit(node) -> None:
        nonlocal added
        if isinstance(node, dict):
            disc = node.get("discriminator")
            branches = node.get("oneOf") or node.get("anyOf")
            if isinstance(disc, dict) and "mapping" not in disc and branches:
                prop, mapping = disc["propertyName"], {}
                for branch in branches:
                    ref = branch["$ref"]
                    target = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
                    for value in target["properties"][prop].get("enum", []):
                        mapping[value] = ref
                disc["mapping"] = mapping
                added += 1
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(doc)
    return added


@pytest.fixture(scope="module")
def openapi():
    doc = json.loads(SPEC.read_text())
    assert add_discriminator_mappings(doc) >= 1
    return schemathesis.openapi.from_dict(doc)


@pytest.fixture(scope="module")
def project_ids(fake) -> list[str]:
    with openai_client(fake) as client:
        body = get_ok(client, "/organization/projects", {"limit": 100})
    ids = [p["id"] for p in body["data"]]
    assert ids
    return ids


def _steer(label: str, case, draw) -> None:
    """Make a generated case valid and data-bearing (the schema alone allows nonsense)."""
    query = case.query if case.query is not None else {}
    if label in LIMITS:
        width = query.get("bucket_width", "1d")
        if width not in LIMITS[label]:
            width = "1d"
            query["bucket_width"] = width
        query["start_time"] = draw(st.integers(DATA_START, DATA_END - 3600))
        if "end_time" in query:
            query["end_time"] = draw(st.integers(query["start_time"] + 60, DATA_END + 86400))
        if "limit" in query:
            query["limit"] = draw(st.integers(1, LIMITS[label][width]))
        query.pop("page", None)
    else:
        if "limit" in query:
            query["limit"] = draw(st.integers(1, 100))
        query.pop("after", None)
    case.query = query


def _exercise(operation, cases, base_url: str, session, headers: dict, counts: Counter) -> None:
    """Run MAX_EXAMPLES generated cases of one operation; count the statuses."""
    label = operation.label

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,  # the same requests on every run
        database=None,  # no .hypothesis/ folder in the work tree
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, steer=st.booleans(), data=st.data())
    def run(case, steer, data):
        if steer:
            _steer(label, case, data.draw)
        response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
        counts[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)
        if steer:
            # A valid request must be served (the fake injects no 429 here).
            assert response.status_code == 200, (
                f"{label}: steered request answered {response.status_code}: {response.text[:300]}"
            )

    run()


def test_fake_openai_conforms_to_published_schema(openapi, fake, project_ids):
    import requests

    headers = {"Authorization": f"Bearer {fake.openai_key}"}
    statuses: dict[str, Counter] = {}
    operations = [result.ok() for result in openapi.get_all_operations()]
    assert {op.label for op in operations} == EXPECTED_OPERATIONS

    with requests.Session() as session:
        for operation in operations:
            if "{project_id}" in operation.path:
                # A made-up project id only ever gets a 404: use the fake's projects.
                cases = st.sampled_from(project_ids).flatmap(
                    lambda pid, op=operation: op.as_strategy(path_parameters={"project_id": pid})
                )
            else:
                cases = operation.as_strategy()
            counts = statuses.setdefault(operation.label, Counter())
            _exercise(operation, cases, fake.openai_base_url, session, headers, counts)

    summary = {label: dict(sorted(c.items())) for label, c in statuses.items()}
    print(f"schemathesis: {sum(sum(c.values()) for c in statuses.values())} requests, {summary}")
    for label, counts in statuses.items():
        assert counts[200] >= MIN_OK, f"{label}: only {counts[200]} responses with 200: {summary}"
        unexpected = set(counts) - {200, 400, 404, 429}
        assert not unexpected, f"{label}: unexpected statuses {unexpected}: {summary}"
