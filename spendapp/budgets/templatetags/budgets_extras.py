"""Formatting for budget pages and alert emails."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def money(value, currency: str | None = None) -> str:
    """``1234.5`` -> ``1,234.50 USD``; empty for None."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    return f"{amount:,.2f} {currency or settings.ORG_CURRENCY}"


@register.filter
def probability(value) -> str:
    """A probability stored as a fraction (0..1), printed as a percentage of 100: ``0.97`` ->
    ``97%`` (pages, banners and emails all print it this way)."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.0f}%"


@register.filter
def percent(value, digits: int = 0) -> str:
    if value is None or value == "":
        return ""
    return f"{float(value):.{int(digits)}f}%"
