"""Saved scenarios, spec validation, model tiers from price bands."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from forecasting.runs.models import Scenario
from spendapp.usage.models import ModelTier, ModelTierOverride, PriceOverride
from spendapp.usage.pricing import PriceBook
from spendapp.usage.tiers import blended_per_mtok, tier_for

pytestmark = pytest.mark.django_db
DAY = date(2026, 9, 1)
SPEC = {
    "name": "Mini for support",
    "transforms": [
        {"type": "shift", "from": {"model": "gpt-5.5"}, "to": "gpt-5.4-mini", "share": 0.5}
    ],
}


def test_a_saved_scenario_is_normalised_and_gets_a_shareable_slug(alice):
    scenario = Scenario.objects.create(name="Mini for support", owner=alice, spec=SPEC)
    assert scenario.slug.startswith("mini-for-support-")
    assert scenario.spec["transforms"][0]["ramp"] == "step"  # defaults filled in
    other = Scenario.objects.create(name="Mini for support", owner=alice, spec=SPEC)
    assert other.slug != scenario.slug


@pytest.mark.parametrize(
    ("transforms", "field"),
    [
        ([{**SPEC["transforms"][0], "share": 1.5}], "transforms[0].share"),
        ([{"type": "growth"}], "transforms[0].factor"),
        ([{"type": "teleport"}], "transforms[0].type"),
        ([{"type": "fewer_calls", "reduction": 0.1, "start": "soon"}], "transforms[0].start"),
    ],
)
def test_a_bad_spec_is_rejected_naming_the_field(alice, transforms, field):
    scenario = Scenario(name="Bad", owner=alice, spec={"name": "Bad", "transforms": transforms})
    with pytest.raises(ValidationError) as caught:
        scenario.full_clean()
    assert field in caught.value.message_dict["spec"][0]
    with pytest.raises(ValidationError, match=field.replace("[", r"\[").replace("]", r"\]")):
        scenario.save()
    assert not Scenario.objects.exists()


def test_default_bands_are_seeded():
    bands = {t.name: t.max_blended_per_mtok for t in ModelTier.objects.all()}
    assert bands == {"small": Decimal("3"), "mid": Decimal("8"), "frontier": None}


@pytest.mark.parametrize(
    ("provider", "model", "tier"),
    [
        ("openai", "gpt-5.4-nano", "small"),  # blended 0.46 $/Mtok
        ("openai", "gpt-5.4-mini", "small"),  # 1.69
        ("anthropic", "claude-haiku-4-5", "small"),  # 2.00
        ("openai", "gpt-5.4", "mid"),  # 5.63
        ("anthropic", "claude-sonnet-4-6", "mid"),  # 6.00
        ("anthropic", "claude-opus-4-7", "frontier"),  # 10.00
        ("openai", "gpt-5.5", "frontier"),  # 11.25
        ("openai", "no-such-model", "unknown"),
    ],
)
def test_tiers_come_from_the_price_bands(provider, model, tier):
    assert tier_for(provider, model, DAY) == tier


def test_blended_price_is_three_input_to_one_output():
    prices = PriceBook().lookup("openai", "gpt-5.4-mini", _at(DAY))
    assert blended_per_mtok(prices) == (3 * Decimal("0.75") + Decimal("4.5")) / 4


def _at(day):
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_bands_are_editable():
    ModelTier.objects.filter(name="small").update(max_blended_per_mtok=Decimal("0.40"))
    assert tier_for("openai", "gpt-5.4-nano", DAY) == "mid"


def test_a_price_override_moves_a_model_to_its_band():
    # Negotiated prices: the same overrides as ingestion decide the band.
    PriceOverride.objects.create(
        provider="openai",
        model_pattern="gpt-5.5",
        valid_from=date(2026, 1, 1),
        input_per_mtok=Decimal("0.5"),
        output_per_mtok=Decimal("2"),
    )
    assert tier_for("openai", "gpt-5.5", DAY) == "small"
    assert tier_for("openai", "gpt-5.5", date(2025, 12, 31)) == "frontier"


def test_an_explicit_override_wins_over_the_bands():
    ModelTierOverride.objects.create(provider="openai", model_pattern="gpt-5.4-*", tier="frontier")
    assert tier_for("openai", "gpt-5.4-nano", DAY) == "frontier"
    assert tier_for("anthropic", "claude-haiku-4-5", DAY) == "small"  # other provider
