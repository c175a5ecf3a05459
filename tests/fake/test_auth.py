"""Auth is checked like the real admin APIs, with their error shapes and status codes."""

from __future__ import annotations

import httpx
import pytest

from spendapp.providers.fake import FakeProviderServer

from .conftest import AN_VERSION, END

OA_PATH = "/organization/usage/completions"
AN_PATH = "/v1/organizations/usage_report/messages"
OA_PARAMS = {"start_time": 1779000000}
AN_PARAMS = {"starting_at": "2026-05-18T00:00:00Z"}


def _openai_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def _anthropic_error(r: httpx.Response, status: int, etype: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == etype
    assert isinstance(body["error"]["message"], str)
    assert body["request_id"] == r.headers["request-id"]
    return body


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, None),
        ({"Authorization": "sk-admin-spendapp-demo-openai"}, None),  # no "Bearer"
        ({"Authorization": "Bearer sk-admin-wrong"}, "invalid_api_key"),
        ({"Authorization": "Bearer sk-proj-abcdefghijklmnop"}, "invalid_api_key"),  # non-admin
        ({"Authorization": "Bearer sk-abcdefghijklmnop"}, "invalid_api_key"),
    ],
)
def test_openai_rejects_bad_auth(fake, headers, code):
    r = httpx.get(fake.openai_base_url + OA_PATH, params=OA_PARAMS, headers=headers)
    err = _openai_error(r, 401)
    assert err["type"] == "invalid_request_error"
    assert err["code"] == code
    assert fake.openai_key not in r.text


def test_openai_accepts_admin_key(oa):
    assert oa.get(OA_PATH, params=OA_PARAMS).status_code == 200


def test_openai_key_does_not_open_anthropic(fake):
    r = httpx.get(
        fake.anthropic_base_url + AN_PATH,
        params=AN_PARAMS,
        headers={"Authorization": f"Bearer {fake.openai_key}", "anthropic-version": AN_VERSION},
    )
    _anthropic_error(r, 401, "authentication_error")


@pytest.mark.parametrize(
    "key",
    [None, "sk-ant-admin01-wrong", "sk-ant-api03-abcdefghijklmnop"],
)
def test_anthropic_rejects_bad_keys(fake, key):
    headers = {"anthropic-version": AN_VERSION}
    if key:
        headers["x-api-key"] = key
    r = httpx.get(fake.anthropic_base_url + AN_PATH, params=AN_PARAMS, headers=headers)
    _anthropic_error(r, 401, "authentication_error")


def test_anthropic_requires_version_header(fake):
    r = httpx.get(
        fake.anthropic_base_url + AN_PATH,
        params=AN_PARAMS,
        headers={"x-api-key": fake.anthropic_key},
    )
    _anthropic_error(r, 400, "invalid_request_error")
    assert "anthropic-version" in r.json()["error"]["message"]


def test_anthropic_accepts_admin_key(an):
    r = an.get(AN_PATH, params=AN_PARAMS)
    assert r.status_code == 200
    assert r.headers["request-id"].startswith("req_")


def test_keys_are_configurable():
    with FakeProviderServer(
        days=2, end=END, openai_key="sk-admin-custom", anthropic_key="sk-ant-admin01-custom"
    ) as fake:
        ok = httpx.get(
            fake.openai_base_url + OA_PATH,
            params=OA_PARAMS,
            headers={"Authorization": "Bearer sk-admin-custom"},
        )
        assert ok.status_code == 200
        old = httpx.get(
            fake.openai_base_url + OA_PATH,
            params=OA_PARAMS,
            headers={"Authorization": "Bearer sk-admin-spendapp-demo-openai"},
        )
        assert old.status_code == 401
        ok = httpx.get(
            fake.anthropic_base_url + AN_PATH,
            params=AN_PARAMS,
            headers={"x-api-key": "sk-ant-admin01-custom", "anthropic-version": AN_VERSION},
        )
        assert ok.status_code == 200


def test_unknown_paths_are_404_in_provider_shape(oa, an):
    _openai_error(oa.get("/organization/nope"), 404)
    _anthropic_error(an.get("/v1/organizations/nope"), 404, "not_found_error")
