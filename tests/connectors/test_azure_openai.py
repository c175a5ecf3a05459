"""Azure OpenAI: the Cost Management Query table parsed from our documented examples, meter
names read into model / token type / deployment type, and the connector against the fake over
loopback HTTP: Entra ID client credentials, paging by nextLink, auth errors, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spendapp.providers.connectors import HttpClient, get_connector
from spendapp.providers.connectors.azure_openai import (
    check_account,
    cost_records,
    meter_units,
    parse_table,
    read_meter,
    usage_records,
)
from spendapp.providers.connectors.bedrock import CredentialError
from spendapp.providers.errors import MalformedResponse, ProviderAuthError
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.fake.azure import CLIENT_ID, CLIENT_SECRET, SCOPE, TENANT_ID
from tests.connectors.conftest import EXAMPLES

FOLDER = EXAMPLES / "azure_openai"
END = datetime(2026, 11, 3, 7, tzinfo=UTC)


def _example(name: str):
    from spendapp.providers.connectors.http import loads

    return loads((FOLDER / name).read_bytes())


def _example_rows():
    columns, rows, link = parse_table(_example("query_daily_example_response.json"), "example")
    assert link == ""
    daily = [dict(zip(columns, row, strict=True)) for row in rows]
    columns, rows, _ = parse_table(_example("query_units_example_response.json"), "units")
    units = meter_units([dict(zip(columns, row, strict=True)) for row in rows])
    return daily, units


def _settings(fake=None, **kw):
    settings = {"tenant_id": TENANT_ID, "client_id": CLIENT_ID, "scope": SCOPE}
    if fake is not None:
        settings["authority"] = fake.url + "/azure/login"
    return {**settings, **kw}


@pytest.mark.parametrize(
    ("meter", "expected"),
    [
        ("gpt-4o-0806-Inp-glbl Tokens", ("gpt-4o-0806", "input", "global")),
        ("gpt-4o-0806-cached-Inp-glbl Tokens", ("gpt-4o-0806", "cached_input", "global")),
        ("gpt-4o-0806-Outp-glbl Tokens", ("gpt-4o-0806", "output", "global")),
        ("gpt 4o mini 0718 Input regional Tokens", ("gpt-4o-mini-0718", "input", "regional")),
        ("gpt-4.1-Outp-DZone Tokens", ("gpt-4.1", "output", "data_zone")),
        ("text-embedding-3-large-glbl Tokens", ("text-embedding-3-large", "input", "global")),
        ("Standard Training Hour", ("Standard Training Hour", "", "")),
    ],
)
def test_meter_names_give_model_token_type_and_deployment_type(meter, expected):
    assert read_meter(meter) == expected


def test_the_example_tables_give_exact_tokens_and_every_dollar():
    daily, units = _example_rows()
    assert units["gpt-4o-0806-Inp-glbl Tokens"] == 1000
    assert units["gpt 4o mini 0718 Input regional Tokens"] == 1_000_000
    usage = usage_records("azure_openai.usage", daily, units)
    prod_4o = next(
        u for u in usage if u.model == "gpt-4o-0806" and u.project_id == "contoso-openai-prod"
    )
    assert (prod_4o.input_uncached_tokens, prod_4o.input_cached_tokens, prod_4o.output_tokens) == (
        495_000,
        100_000,
        80_000,
    )
    assert prod_4o.service_tier == "global"
    mini = next(u for u in usage if u.model == "gpt-4o-mini-0718")
    assert (mini.input_uncached_tokens, mini.output_tokens) == (200_000, 20_000)
    assert mini.project_id == "contoso-openai-dev"
    costs = cost_records("azure_openai.cost", daily, units)
    assert sum(c.amount for c in costs) == Decimal("3.90883")
    training = next(c for c in costs if c.line_item == "Standard Training Hour")
    assert (training.model, training.token_type, training.quantity) == ("", "", None)
    assert {c.bucket_start.date().isoformat() for c in costs} == {"2026-11-02", "2026-11-03"}


def test_a_table_that_is_not_the_documented_shape_names_the_field():
    body = _example("query_daily_example_response.json")
    del body["properties"]["rows"]
    with pytest.raises(MalformedResponse, match=r"properties\.rows"):
        parse_table(body, "daily")
    body = _example("query_daily_example_response.json")
    body["properties"]["rows"][2] = body["properties"]["rows"][2][:3]
    with pytest.raises(MalformedResponse, match=r"rows\[2\]"):
        parse_table(body, "daily")
    daily, units = _example_rows()
    daily[0]["Cost"] = True
    with pytest.raises(MalformedResponse, match=r"rows\[0\].Cost"):
        cost_records("azure_openai.cost", daily, units)


def test_settings_are_checked_with_errors_naming_them():
    check_account(_settings(), "a-long-enough-secret")
    for settings, message in [
        (_settings(tenant_id="contoso"), "tenant_id"),
        (_settings(scope="/subscriptions/abc"), "scope"),
        (_settings(service_names="Azure OpenAI"), "service_names"),
        (_settings(tenantid="x"), "unknown setting"),
    ]:
        with pytest.raises(CredentialError, match=message):
            check_account(settings, None)


@pytest.fixture(scope="module")
def fake():
    with FakeProviderServer(seed=8, days=40, end=END, clouds=True) as server:
        yield server


def _connector(fake, secret=CLIENT_SECRET, **kw):
    client = HttpClient(backoff_base=0, max_attempts=4)
    return get_connector(
        "azure_openai", fake.azure_base_url, secret, client=client, settings=_settings(fake, **kw)
    )


def _window_totals(connector, start, end):
    costs = [r for p in connector.fetch_pages("azure_openai.cost", start, end) for r in p.records]
    usage = [r for p in connector.fetch_pages("azure_openai.usage", start, end) for r in p.records]
    return sum(c.amount for c in costs), sum(u.input_tokens + u.output_tokens for u in usage)


def _truth_totals(fake, start, end):
    rows = [
        r
        for r in fake.truth()
        if r["provider"] == "azure_openai"
        and start.date().isoformat() <= r["date"] < end.date().isoformat()
    ]
    return (
        sum(Decimal(r["billed_cost"]) for r in rows),
        sum(r["input_tokens"] + r["output_tokens"] for r in rows),
    )


def test_a_month_of_cost_and_tokens_equals_the_truth_over_several_pages(fake):
    fake.reset()
    start = datetime(2026, 10, 3, tzinfo=UTC)
    end = start + timedelta(days=31)
    assert _window_totals(_connector(fake), start, end) == _truth_totals(fake, start, end)
    log = fake.request_log
    # One token for the connector; daily rows span several pages (nextLink), units one.
    assert log["azure.token"] == 1 and log["azure.query"] >= 3


def test_a_wrong_client_secret_or_a_revoked_app_is_an_auth_error_without_the_secret(fake):
    fake.reset()
    with pytest.raises(ProviderAuthError, match="AADSTS7000215") as info:
        _connector(fake, secret="wrong-secret-value").test_connection()
    assert "wrong-secret-value" not in str(info.value)
    fake.set_faults("revoke@azure.query#1")
    with pytest.raises(ProviderAuthError, match="InvalidAuthenticationToken"):
        _connector(fake).test_connection()
    fake.reset()


def test_rate_limits_and_server_errors_are_retried_to_the_same_answer(fake):
    fake.reset()
    start = datetime(2026, 10, 3, tzinfo=UTC)
    end = start + timedelta(days=31)
    fake.set_faults("429@azure.query#1,500@azure.query#3,500@azure.token#1")
    assert _window_totals(_connector(fake), start, end) == _truth_totals(fake, start, end)
    fired = [f["fault"] for f in fake.faults.state()["fired"]]
    assert len(fired) == 3
    fake.reset()


def test_a_truncated_table_fails_with_the_field_named(fake):
    fake.reset()
    fake.set_faults("truncated@azure.query#1")
    start = datetime(2026, 10, 3, tzinfo=UTC)
    with pytest.raises(MalformedResponse, match=r"properties\.rows"):
        _window_totals(_connector(fake), start, start + timedelta(days=31))
    fake.reset()


def test_a_next_link_to_another_host_is_refused(fake):
    connector = _connector(fake)
    with pytest.raises(MalformedResponse, match="another host"):
        connector._next_url("https://attacker.example/subscriptions/x?$skiptoken=1")


def test_the_query_asks_for_actual_cost_by_meter_and_resource_for_the_window():
    connector = get_connector("azure_openai", "", "a-secret-value", settings=_settings())
    body = connector.query_body(
        datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), daily=True
    )
    assert body["type"] == "ActualCost" and body["timeframe"] == "Custom"
    assert body["timePeriod"] == {
        "from": "2026-11-01T00:00:00+00:00",
        "to": "2026-11-02T23:59:59+00:00",
    }
    assert [g["name"] for g in body["dataset"]["grouping"]] == ["Meter", "ResourceId"]
    assert json.dumps(body)  # a JSON body as sent
    assert "a-secret-value" not in repr(connector)
