"""The explorer's model tiers follow the official rule (`spendapp.usage.tiers`): price
bands on the catalog prices, and admin overrides that win over them."""

from __future__ import annotations

from decimal import Decimal

from spendapp.usage.models import ModelTierOverride
from spendapp.usage.queries import SpendQuery, spend_rows
from spendapp.usage.tiers import TierBook
from tests.dashboard.conftest import SERIES, TODAY, chart_json

FROM = TODAY.replace(day=1)
PARAMS = {"from": FROM.isoformat(), "to": TODAY.isoformat(), "by": "tier"}


def _totals(rows: list[dict], key: str) -> dict:
    out: dict = {}
    for row in rows:
        out[row[key]] = out.get(row[key], Decimal(0)) + Decimal(row["estimated_cost"])
    return out


def _expected_by_tier(book: TierBook) -> dict:
    by_model = _totals(spend_rows(SpendQuery(FROM, TODAY, ("model",))), "model")
    expected: dict = {}
    for provider, model, *_ in SERIES:
        tier = book.tier(provider, model, TODAY)
        expected[tier] = expected.get(tier, Decimal(0)) + by_model[model]
    return expected


def test_tier_grouping_uses_the_price_bands(finance_client, spend_data):
    rows = spend_rows(SpendQuery(FROM, TODAY, ("tier",)))
    assert _totals(rows, "tier") == _expected_by_tier(TierBook())
    assert {row["tier"] for row in rows} >= {"small", "frontier"}


def test_tier_grouping_follows_a_model_tier_override(finance_client, spend_data):
    before = TierBook().tier("openai", "gpt-5.4-mini", TODAY)
    assert before != "frontier"
    ModelTierOverride.objects.create(provider="openai", model_pattern="gpt-5.4*", tier="frontier")
    book = TierBook()
    assert book.tier("openai", "gpt-5.4-mini", TODAY) == "frontier"

    rows = spend_rows(SpendQuery(FROM, TODAY, ("tier",)))
    assert _totals(rows, "tier") == _expected_by_tier(book)

    # The page groups and filters by the same tiers, and offers them as filter values.
    response = finance_client.get("/explorer/", PARAMS)
    series = {s.key: s.parts.estimated for s in response.context["series"]}
    assert series == _expected_by_tier(book)
    tier_filter = next(f for f in response.context["filter_choices"] if f["name"] == "tier")
    assert "frontier" in [value for value, _, _ in tier_filter["options"]]

    filtered = finance_client.get("/explorer/", {**PARAMS, "by": "model", "tier": "frontier"})
    models = {t["name"] for t in chart_json(filtered, "chart-spend")["data"]}
    assert models == {"gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "claude-opus-4-7"} - {
        m for p, m, *_ in SERIES if book.tier(p, m, TODAY) != "frontier"
    }
    assert {"gpt-5.4-mini", "gpt-5.4"} <= models


def test_an_override_on_another_provider_does_not_apply(finance_client, spend_data):
    ModelTierOverride.objects.create(provider="anthropic", model_pattern="gpt-5.5", tier="small")
    rows = spend_rows(SpendQuery(FROM, TODAY, ("model", "tier"), "month"))
    assert {r["tier"] for r in rows if r["model"] == "gpt-5.5"} == {
        TierBook().tier("openai", "gpt-5.5", TODAY)
    }
