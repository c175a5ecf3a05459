"""Fireworks AI: the example payloads parse exactly; money is exact; bad pages say where."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from spendapp.providers.connectors import CONNECTORS, FireworksConnector, get_connector
from spendapp.providers.connectors.bedrock import CredentialError
from spendapp.providers.connectors.fireworks import money
from spendapp.providers.errors import MalformedResponse, ProviderAuthError
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.fake.fireworks import ACCOUNT_ID, KEYS, MODELS

from .conftest import EXAMPLES, Reply, expected, load_example

KEY = "fw_TESTfireworks0123456789SECRET"
SETTINGS = {"account_id": "acme"}
DAY = datetime(2026, 5, 1, tzinfo=UTC)
YESTERDAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)


def _conn(base_url: str = "", key: str = KEY, **kw) -> FireworksConnector:
    return FireworksConnector(base_url, key, settings=kw.pop("settings", SETTINGS), **kw)


@pytest.fixture
def scripted(server, client) -> FireworksConnector:
    return _conn(server.base_url, client=client)


def test_registered_with_settings_and_the_public_base_url():
    assert CONNECTORS["fireworks"] is FireworksConnector
    assert FireworksConnector.uses_settings
    conn = get_connector("fireworks", "", KEY, settings={"account_id": "accounts/acme"})
    assert conn.base_url == "https://api.fireworks.ai/v1"
    assert conn.settings == {"account_id": "acme"}
    assert KEY not in repr(conn)


@pytest.mark.parametrize(
    "settings", [{}, {"account_id": ""}, {"account_id": "Acme Corp"}, {"account_id": "a", "x": 1}]
)
def test_a_missing_or_bad_account_id_is_refused_naming_the_setting(settings):
    with pytest.raises(CredentialError, match=r"account_id|unknown setting") as exc:
        FireworksConnector.check_account(settings, KEY)
    assert exc.value.field == "settings" and KEY not in str(exc.value)


def test_the_usage_example_parses_to_the_expected_records():
    conn = _conn()
    body = load_example("fireworks", "billing_usage_example_response.json")
    records = conn.parse_page(conn.endpoint("fireworks.usage"), body).records
    want = expected("fireworks")["billing_usage_example_response.json"]
    got = [
        {
            "bucket_start_utc": r.bucket_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "bucket_end_utc": r.bucket_end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "model": r.model,
            "api_key_id": r.api_key_id,
            "input_uncached_tokens": r.input_uncached_tokens,
            "output_tokens": r.output_tokens,
            "requests": r.requests,
            "extra": r.extra,
        }
        for r in records
    ]
    assert got == want


def test_the_summary_example_parses_to_exact_decimal_cost_lines():
    conn = _conn()
    body = load_example("fireworks", "billing_summary_example_response.json")
    want = expected("fireworks")["billing_summary_example_response.json"]
    day = date.fromisoformat(want["day"])
    records = conn.parse_page(conn.endpoint("fireworks.costs"), body, day=day).records
    got = [
        {
            "line_item": r.line_item,
            "model": r.model,
            "token_type": r.token_type,
            "amount": str(r.amount),
            "currency": r.currency,
            "quantity": str(r.quantity),
        }
        for r in records
    ]
    assert got == want["records"]
    assert all(isinstance(r.amount, Decimal) for r in records)
    assert sum(r.amount for r in records) == Decimal(want["total"])
    assert {(r.bucket_start, r.bucket_end) for r in records} == {(DAY, DAY + timedelta(days=1))}


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ({"currencyCode": "USD", "units": "1", "nanos": 750000000}, Decimal("1.75")),
        ({"currencyCode": "usd", "units": 0, "nanos": 1}, Decimal("0.000000001")),
        ({"currencyCode": "USD", "units": "-2", "nanos": -500000000}, Decimal("-2.5")),
        ({"currencyCode": "EUR", "nanos": 10000000}, Decimal("0.01")),
        ({"currencyCode": "USD", "units": "123456789012"}, Decimal("123456789012")),
    ],
)
def test_money_is_exact(value, amount):
    got, currency = money(value, "m")
    assert got == amount and isinstance(got, Decimal) and currency == value["currencyCode"].upper()


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"units": "1"}, "m.currencyCode"),
        ({"currencyCode": "USD", "units": "1.5"}, "m.units"),
        ({"currencyCode": "USD", "units": "1", "nanos": 1000000000}, "m.nanos"),
        ({"currencyCode": "USD", "units": "1", "nanos": -1}, "m.nanos"),
        ({"currencyCode": "USD", "nanos": Decimal("0.5")}, "m.nanos"),
    ],
)
def test_bad_money_is_malformed_and_names_the_field(value, field):
    with pytest.raises(MalformedResponse, match=field.replace(".", r"\.")):
        money(value, "m")


def test_a_line_item_without_its_cost_is_malformed_and_names_the_field():
    conn = _conn()
    body = load_example("fireworks", "billing_summary_example_response.json")
    del body["lineItems"][1]["totalCost"]
    with pytest.raises(MalformedResponse, match=r"lineItems\[1\]\.totalCost"):
        conn.parse_page(conn.endpoint("fireworks.costs"), body, day=DAY.date())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda row: row.pop("startTime"), r"serverlessCosts\[0\]\.startTime"),
        (lambda row: row.update(startTime="2026-05-01T07:00:00Z"), r"serverlessCosts\[0\]"),
        (lambda row: row.update(promptTokens="12.5"), r"serverlessCosts\[0\]\.promptTokens"),
        (lambda row: row.update(completionTokens=-3), r"serverlessCosts\[0\]\.completionTokens"),
        (lambda row: row.update(group=[]), r"serverlessCosts\[0\]\.group"),
        (lambda row: row["group"].update(model_name="m" * 201), r"serverlessCosts\[0\]: .*long"),
    ],
)
def test_a_bad_usage_row_is_malformed_and_names_the_field(change, field):
    conn = _conn()
    body = load_example("fireworks", "billing_usage_example_response.json")
    change(body["serverlessCosts"][0])
    with pytest.raises(MalformedResponse, match=field):
        conn.parse_page(conn.endpoint("fireworks.usage"), body)


def test_empty_answers_are_no_records_proto3_leaves_empty_lists_out():
    conn = _conn()
    assert conn.parse_page(conn.endpoint("fireworks.usage"), {}).records == []
    assert conn.parse_page(conn.endpoint("fireworks.costs"), {}, day=DAY.date()).records == []


def test_the_requests_carry_the_window_groupings_and_the_key_only_in_the_header(
    server, scripted, caplog
):
    caplog.set_level(logging.DEBUG)
    server.add(Reply(body={"serverlessCosts": []}))
    end = DAY + timedelta(days=7)
    assert [p.records for p in scripted.fetch_pages("fireworks.usage", DAY, end)] == [[]]
    [usage] = server.requests
    assert usage.path == "/v1/accounts/acme/billingUsage"
    assert (usage.param("startTime"), usage.param("endTime")) == (
        "2026-05-01T00:00:00Z",
        "2026-05-08T00:00:00Z",
    )
    assert usage.param("usageType") == "SERVERLESS" and usage.param("timezone") == "UTC"
    assert usage.params("groupBy") == [
        "model_name",
        "api_key_id",
        "api_key_name",
        "annotations.team",
        "annotations.project",
        "annotations.environment",
    ]
    assert usage.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in usage.raw_target

    server.add(*[Reply(body={"lineItems": []}) for _ in range(3)])
    pages = list(scripted.fetch_pages("fireworks.costs", DAY, DAY + timedelta(days=3)))
    assert len(pages) == 3  # one summary per UTC day: the summary holds no dates
    summaries = server.requests[1:]
    assert {s.path for s in summaries} == {"/v1/accounts/acme/billing/summary"}
    assert [s.param("startTime") for s in summaries] == [
        f"2026-05-0{d}T00:00:00Z" for d in (1, 2, 3)
    ]
    assert [s.param("endTime") for s in summaries] == [f"2026-05-0{d}T00:00:00Z" for d in (2, 3, 4)]
    assert KEY not in caplog.text


def test_a_rejected_key_is_an_auth_error_without_the_key(server, scripted):
    server.add(Reply(401, {"code": 16, "message": "invalid API key", "details": []}))
    with pytest.raises(ProviderAuthError, match="invalid API key") as exc:
        scripted.test_connection()
    assert KEY not in str(exc.value)


def test_malformed_json_is_a_clear_error(server, scripted):
    server.add(Reply(body='{"lineItems": [{]}'))
    with pytest.raises(MalformedResponse):
        list(scripted.fetch_pages("fireworks.costs", DAY, DAY + timedelta(days=1)))


def test_key_names_come_from_usage_grouped_by_key(server, scripted):
    server.add(
        Reply(body=(EXAMPLES / "fireworks" / "billing_usage_example_response.json").read_text())
    )
    names = scripted.names()
    assert [(n.kind, n.id, n.name) for n in names] == [
        ("api_key", "key_51d9e0bb42", "notebooks"),
        ("api_key", "key_8f3c21a7d0", "prod-chat"),
    ]
    assert server.requests[0].params("groupBy") == ["api_key_id", "api_key_name"]


def test_against_the_fake_a_week_equals_the_truth_to_the_nano():
    with FakeProviderServer(seed=5, days=10) as fake:
        fw = fake.extra["fireworks"]
        conn = get_connector(
            "fireworks", fake.base_url("fireworks"), fw.key, settings={"account_id": ACCOUNT_ID}
        )
        end = YESTERDAY + timedelta(days=1)
        start = end - timedelta(days=7)
        usage = [r for p in conn.fetch_pages("fireworks.usage", start, end) for r in p.records]
        costs = [r for p in conn.fetch_pages("fireworks.costs", start, end) for r in p.records]
        truth = [
            t
            for t in fake.truth()
            if t["provider"] == "fireworks" and t["date"] >= start.date().isoformat()
        ]
        assert {t["date"] for t in truth} == {
            (start + timedelta(days=i)).date().isoformat() for i in range(7)
        }
        for t in truth:
            day, model = t["date"], t["model"]
            mine_u = [r for r in usage if r.bucket_start.date().isoformat() == day]
            mine_c = [r for r in costs if r.bucket_start.date().isoformat() == day]
            assert (
                sum(r.input_uncached_tokens for r in mine_u if r.model == model)
                == (t["input_tokens"])
            )
            assert sum(r.output_tokens for r in mine_u if r.model == model) == t["output_tokens"]
            assert sum(r.amount for r in mine_c if r.model == model) == Decimal(t["billed_cost"])
        assert {r.api_key_id for r in usage} == set(fw.key_ids)
        assert {r.model for r in usage} == {m[0] for m in MODELS}
        assert len(conn.names()) == len(KEYS)
        assert fake.request_log["fireworks.billing_summary"] == 7


def test_the_fake_refuses_a_range_over_31_days_and_another_account():
    with FakeProviderServer(seed=5, days=60) as fake:
        fw = fake.extra["fireworks"]
        conn = _conn(fake.base_url("fireworks"), fw.key, settings={"account_id": ACCOUNT_ID})
        spec = conn.endpoint("fireworks.usage")
        long = spec.__class__(spec.name, spec.kind, spec.bucket_width, timedelta(days=40))
        with pytest.raises(Exception, match="31 days"):
            list(conn.fetch_pages(long, YESTERDAY - timedelta(days=35), YESTERDAY))
        other = _conn(fake.base_url("fireworks"), fw.key, settings={"account_id": "someone-else"})
        with pytest.raises(Exception, match="permission denied"):
            other.test_connection()
