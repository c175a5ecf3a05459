"""DeepSeek: the documented balance example parses per currency; there is no usage API."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from spendapp.providers.connectors import DeepSeekConnector
from spendapp.providers.connectors.deepseek import parse_balance
from spendapp.providers.errors import MalformedResponse, ProviderAuthError
from spendapp.providers.fake import FakeProviderServer

from .conftest import Reply, load_example

KEY = "sk-TESTdeepseek0123456789abcdefSECRET"
NOW = datetime(2026, 12, 6, 6, tzinfo=UTC)


def test_the_documented_example_is_one_cny_balance_split_into_granted_and_topped_up():
    [cny] = parse_balance(load_example("deepseek", "balance_example_response.json"), NOW)
    assert (cny.currency, cny.amount, cny.granted, cny.topped_up, cny.available) == (
        "CNY",
        Decimal("110.00"),
        Decimal("10.00"),
        Decimal("100.00"),
        True,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("is_available"), "is_available"),
        (lambda b: b["balance_infos"][0].pop("total_balance"), "total_balance"),
        (lambda b: b["balance_infos"][0].update(total_balance="lots"), "total_balance"),
        (lambda b: b["balance_infos"][0].update(currency="yuan"), "currency|ISO"),
        (lambda b: b["balance_infos"].append(dict(b["balance_infos"][0])), "twice"),
    ],
)
def test_a_bad_balance_answer_is_malformed_and_says_where(change, field):
    body = load_example("deepseek", "balance_example_response.json")
    change(body)
    with pytest.raises(MalformedResponse, match=field):
        parse_balance(body, NOW)


def test_the_connector_reads_the_balance_at_the_root_not_under_v1(server, client):
    server.add(Reply(body=(load_example_text())))
    conn = DeepSeekConnector(server.base_url + "/v1", KEY, client=client)
    assert conn.endpoints() == []
    [cny] = conn.balances()
    assert cny.amount == Decimal("110.00")
    assert server.requests[0].path == "/user/balance"
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


def load_example_text() -> str:
    from .conftest import EXAMPLES

    return (EXAMPLES / "deepseek" / "balance_example_response.json").read_text()


def test_against_the_fake_both_currencies_come_back_and_a_wrong_key_is_rejected():
    with FakeProviderServer(seed=2, days=5) as fake:
        conn = DeepSeekConnector(fake.base_url("deepseek"), fake.extra["deepseek"].key)
        balances = {b.currency: b for b in conn.balances()}
        assert set(balances) == {"CNY", "USD"}
        for b in balances.values():
            assert b.amount == b.granted + b.topped_up and b.amount > 0
        assert "Balance:" in conn.test_connection()
        wrong = DeepSeekConnector(fake.base_url("deepseek"), "sk-wrong-key-0000")
        with pytest.raises(ProviderAuthError, match="Authentication Fails"):
            wrong.balances()
