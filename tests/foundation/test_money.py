"""Money is written one way everywhere: the organisation's currency symbol, exact in tables and
emails, compact on cards with the exact amount in the title."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from spendapp.core import money


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("10272.234"), "$10,272.23"),
        (Decimal("0.005"), "$0.01"),
        (Decimal("-12.3"), "-$12.30"),
        (Decimal("-0.001"), "$0.00"),
        ("153.99", "$153.99"),
        (None, "\u2013"),
    ],
)
def test_exact_amounts_carry_the_symbol_and_cents(value, text):
    assert money.exact(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1934.5"), "$1.9k"),
        (Decimal("6500000"), "$6.5M"),
        (Decimal("999.994"), "$999.99"),
        (Decimal("-2500"), "-$2.5k"),
    ],
)
def test_compact_amounts_shorten_from_a_thousand(value, text):
    assert money.compact(value) == text


def test_the_symbol_follows_the_organisation_currency(settings):
    settings.ORG_CURRENCY = "EUR"
    assert money.exact(Decimal("1234.5")) == "€1,234.50"
    settings.ORG_CURRENCY = "SEK"  # not in the table: the code stands in for a symbol
    assert money.compact(Decimal("1234.5")) == "SEK 1.2k"
    assert money.exact(1, "GBP") == "£1.00"


def test_a_card_shows_the_compact_amount_with_the_exact_one_on_hover():
    html = Template("{% load money %}{% money_compact v %} {{ v|money }}").render(
        Context({"v": Decimal("1934.567")})
    )
    assert html == '<span class="money" title="$1,934.57">$1.9k</span> $1,934.57'
