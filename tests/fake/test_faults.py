"""Fault injection: SPEC parsing, each fault kind, scripts, rates, revision, revocation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from spendapp.providers.fake import FakeProviderServer, FaultSpecError, truth
from spendapp.providers.fake.faults import parse_spec

from .conftest import END, anthropic_client, openai_client

OA_COSTS = "/organization/costs"
OA_USAGE = "/organization/usage/completions"
AN_USAGE = "/v1/organizations/usage_report/messages"
AN_COSTS = "/v1/organizations/cost_report"
OA_Q = {"start_time": 1778976000}  # 2026-05-17
AN_Q = {"starting_at": "2026-05-17T00:00:00Z"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(seed=11, days=10, end=END, timeout_delay=1.0) as f:
        yield f


@pytest.fixture
def fake(server) -> Iterator[FakeProviderServer]:
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def oa(fake):
    with openai_client(fake, timeout=5) as c:
        yield c


@pytest.fixture
def an(fake):
    with anthropic_client(fake, timeout=5) as c:
        yield c


def test_parse_spec():
    faults = parse_spec(
        "429=0.1, 500@anthropic=0.05,malformed@openai.costs#2,revoke@anthropic,"
        "timeout:2.5@openai.usage#3+,429bare#4"
    )
    assert [f.describe() for f in faults] == [
        "429:1=0.1",
        "500@anthropic=0.05",
        "malformed@openai.costs#2",
        "revoke@anthropic#1",
        "timeout:2.5@openai.usage#3+",
        "429bare#4",
    ]
    for bad in ["nope=0.1", "429=2", "revise=0.5", "500@gcp", "429#0", "500=abc"]:
        with pytest.raises(FaultSpecError):
            parse_spec(bad)


def test_429_with_and_without_retry_after(fake, oa, an):
    fake.set_faults("429:3@openai#1,429bare@openai#2,429@anthropic#1,429bare@anthropic#2")
    r = oa.get(OA_COSTS, params=OA_Q)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert set(r.json()["error"]) == {"message", "type", "param", "code"}
    r = oa.get(OA_COSTS, params=OA_Q)
    assert r.status_code == 429 and "retry-after" not in r.headers
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 200
    r = an.get(AN_COSTS, params=AN_Q)
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert r.json()["error"]["type"] == "rate_limit_error"
    r = an.get(AN_COSTS, params=AN_Q)
    assert r.status_code == 429 and "retry-after" not in r.headers
    assert an.get(AN_COSTS, params=AN_Q).status_code == 200


def test_server_errors(fake, oa, an):
    fake.set_faults("500@openai#1,502@openai#2,529@anthropic#1,500@anthropic#2,503@anthropic#3")
    r = oa.get(OA_USAGE, params=OA_Q)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
    r = oa.get(OA_USAGE, params=OA_Q)
    assert r.status_code == 502 and r.headers["content-type"].startswith("text/html")
    r = an.get(AN_USAGE, params=AN_Q)
    assert r.status_code == 529 and r.json()["error"]["type"] == "overloaded_error"
    r = an.get(AN_USAGE, params=AN_Q)
    assert r.status_code == 500 and r.json()["error"]["type"] == "api_error"
    assert an.get(AN_USAGE, params=AN_Q).status_code == 503
    assert an.get(AN_USAGE, params=AN_Q).status_code == 200


def test_scripted_malformed_hits_only_the_nth_request_to_that_endpoint(fake, oa, an):
    fake.set_faults("malformed@openai.costs#2")
    assert oa.get(OA_USAGE, params=OA_Q).status_code == 200
    first = oa.get(OA_COSTS, params=OA_Q)
    first.json()
    second = oa.get(OA_COSTS, params=OA_Q)
    assert second.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        second.json()
    assert oa.get(OA_COSTS, params=OA_Q).json() == first.json()
    assert fake.request_log["openai.costs"] == 3
    assert fake.request_log["openai.usage.completions"] == 1


def test_truncated_page_misses_a_required_field(fake, oa, an):
    fake.set_faults("truncated@openai.completions#1,truncated@anthropic.cost_report#1")
    body = oa.get(OA_USAGE, params=OA_Q).json()
    assert "input_tokens" not in body["data"][0]["results"][0]
    body = an.get(AN_COSTS, params=AN_Q).json()
    assert "amount" not in body["data"][0]["results"][0]
    fake.set_faults("truncated@openai.projects#1")
    assert "has_more" not in oa.get("/organization/projects").json()


def test_cutoff_body(fake, oa):
    fake.set_faults("cutoff@openai.costs#1")
    with pytest.raises(httpx.HTTPError):  # RemoteProtocolError: incomplete body
        oa.get(OA_COSTS, params=OA_Q)
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 200


def test_timeout_and_hang(fake):
    fake.set_faults("timeout:1.5@anthropic#1,hang:0.3@anthropic#2")
    with anthropic_client(fake, timeout=0.5) as an, pytest.raises(httpx.ReadTimeout):
        an.get(AN_USAGE, params=AN_Q)
    with anthropic_client(fake, timeout=5) as an:
        with pytest.raises(httpx.RemoteProtocolError):
            an.get(AN_USAGE, params=AN_Q)
        assert an.get(AN_USAGE, params=AN_Q).status_code == 200


def test_timeout_answers_late(fake):
    fake.set_faults("timeout:0.3@openai#1")
    with openai_client(fake, timeout=5) as oa:
        r = oa.get(OA_COSTS, params=OA_Q)
        assert r.status_code == 200
        assert r.elapsed.total_seconds() >= 0.3


def test_rates_are_deterministic(fake):
    def run(server) -> list[int]:
        server.set_faults("500@openai=0.3,429@openai=0.1")
        with openai_client(server) as oa:
            return [oa.get(OA_COSTS, params=OA_Q).status_code for _ in range(60)]

    a = run(fake)
    b = run(fake)  # setting the spec again restarts the random stream
    assert a == b
    assert 8 <= a.count(500) <= 30 and 1 <= a.count(429) <= 15
    assert set(a) == {200, 429, 500}


def test_revoke(fake, oa, an):
    fake.set_faults("revoke@anthropic#3")
    assert an.get(AN_USAGE, params=AN_Q).status_code == 200
    assert an.get(AN_COSTS, params=AN_Q).status_code == 200
    for _ in range(3):
        r = an.get(AN_USAGE, params=AN_Q)
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
    assert oa.get(OA_USAGE, params=OA_Q).status_code == 200
    fake.reset()
    assert an.get(AN_USAGE, params=AN_Q).status_code == 200


def _yesterday_openai(oa) -> tuple[int, Decimal]:
    q = {"start_time": 1779148800, "end_time": 1779235200}  # 2026-05-19 = yesterday
    usage = oa.get(OA_USAGE, params=q).json()["data"][0]["results"][0]["input_tokens"]
    costs = oa.get(OA_COSTS, params=q).json()["data"][0]["results"][0]["amount"]["value"]
    return usage, Decimal(repr(costs))


def test_revision_changes_yesterday_and_the_truth(fake, oa, an):
    fake.set_faults("revise@openai#3")
    final = fake.truth()
    current = fake.truth("current")
    assert final != current
    assert final == truth(seed=11, days=10, end=END, faults="revise@openai#3")
    changed = {(a["date"], a["provider"]) for a, b in zip(final, current, strict=True) if a != b}
    assert changed == {("2026-05-19", "openai")}
    before = _yesterday_openai(oa)  # requests 1 and 2
    older = oa.get(OA_USAGE, params={"start_time": 1779062400, "end_time": 1779148800}).json()
    after = _yesterday_openai(oa)  # request 3 triggers the revision
    assert after[0] > before[0] and after[1] > before[1]
    assert fake.truth("current") == final
    assert (
        oa.get(OA_USAGE, params={"start_time": 1779062400, "end_time": 1779148800}).json() == older
    )
    want_tokens = sum(
        r["input_tokens"] for r in final if r["date"] == "2026-05-19" and r["provider"] == "openai"
    )
    want_cost = sum(
        Decimal(r["billed_cost"])
        for r in final
        if r["date"] == "2026-05-19" and r["provider"] == "openai"
    )
    assert after == (want_tokens, want_cost)
    fake.reset()
    assert _yesterday_openai(oa) == before


def test_control_endpoints(fake, oa):
    r = httpx.post(fake.url + "/_control/faults", json={"spec": "429@openai.costs#1"})
    assert r.status_code == 200 and r.json()["spec"] == "429@openai.costs#1"
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 429
    state = httpx.get(fake.url + "/_control/faults").json()
    assert state["fired"][0]["fault"] == "429:1@openai.costs#1"
    assert httpx.post(fake.url + "/_control/faults", json={"spec": "bogus"}).status_code == 400
    httpx.post(fake.url + "/_control/faults", json={"spec": "500@openai#1+"})
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 500
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 500
    r = httpx.post(fake.url + "/_control/reset")
    assert r.status_code == 200 and r.json()["spec"] == ""
    assert oa.get(OA_COSTS, params=OA_Q).status_code == 200
    assert fake.request_log == {"openai.costs": 1}
    httpx.post(fake.url + "/_control/revise", json={"provider": "anthropic"})
    assert fake.revised == {
        "openai": False,
        "anthropic": True,
        "openrouter": False,
        "deepseek": False,
        "fireworks": False,
    }
