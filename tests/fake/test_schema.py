"""The fake's OpenAI responses validate against OpenAI's published OpenAPI extract."""

from __future__ import annotations

import json

import pytest

from .schema import OPENAPI_PATH, Validator, load_openapi


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(load_openapi())


def test_validator_accepts_documented_examples_and_rejects_broken_ones(validator):
    schema = validator.response_schema("/organization/usage/completions")
    folder = OPENAPI_PATH.parent
    for name in ("usage_completions_example_response.json", "costs_example_response.json"):
        assert validator.errors(json.loads((folder / name).read_text()), schema) == []
    broken = json.loads((folder / "usage_completions_example_response.json").read_text())
    del broken["data"][0]["results"][0]["input_tokens"]
    assert validator.errors(broken, schema)
    broken["has_more"] = "yes"
    assert validator.errors(broken, schema)


@pytest.mark.parametrize(
    "params",
    [
        [("start_time", 1778457600)],
        [
            ("start_time", 1778457600),
            ("group_by", "project_id"),
            ("group_by", "user_id"),
            ("group_by", "api_key_id"),
            ("group_by", "model"),
            ("group_by", "batch"),
            ("group_by", "service_tier"),
            ("limit", 31),
        ],
        [("start_time", 1778457600), ("bucket_width", "1h"), ("group_by", "model")],
        [("start_time", 1778500000), ("bucket_width", "1m"), ("group_by", "api_key_id")],
        [("start_time", 1768000000), ("limit", 31), ("batch", "true")],  # empty buckets
    ],
)
def test_completions_pages_validate(oa, validator, params):
    body = oa.get("/organization/usage/completions", params=params).json()
    errs = validator.errors(body, validator.response_schema("/organization/usage/completions"))
    assert errs == [], errs[:5]


@pytest.mark.parametrize(
    "group",
    [[], ["project_id"], ["line_item"], ["project_id", "line_item", "api_key_id"]],
)
def test_costs_pages_validate(oa, validator, group):
    params = [("start_time", 1775001600), ("limit", 60), *[("group_by", g) for g in group]]
    body = oa.get("/organization/costs", params=params).json()
    errs = validator.errors(body, validator.response_schema("/organization/costs"))
    assert errs == [], errs[:5]
    if "line_item" in group:
        items = [r for b in body["data"] for r in b["results"]]
        assert all(r["quantity_unit"] in ("tokens", None) for r in items)


def test_projects_and_keys_validate(oa, validator):
    body = oa.get("/organization/projects", params={"include_archived": "true"}).json()
    assert validator.errors(body, validator.response_schema("/organization/projects")) == []
    for project in body["data"]:
        keys = oa.get(f"/organization/projects/{project['id']}/api_keys").json()
        schema = validator.response_schema("/organization/projects/{project_id}/api_keys")
        assert validator.errors(keys, schema) == []


def test_rate_limit_error_validates(fake, oa, validator):
    fake.set_faults("429@openai.costs#1")
    try:
        r = oa.get("/organization/costs", params={"start_time": 1775001600})
    finally:
        fake.reset()
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    schema = validator.response_schema("/organization/costs", "429")
    assert validator.errors(r.json(), schema) == []
