"""Number formats of the dashboard's tables: short on the page, the full value in the title.

Money goes through `spendapp.core.money` (``{% load money %}`` in new templates); ``short_money``
and ``full_money`` stay as its aliases."""

from decimal import Decimal

from django import template

from spendapp.core import money
from spendapp.dashboard import charts

register = template.Library()


@register.filter
def short_money(value):
    """1234.5 -> "$1.2k" (Decimal in, text out)."""
    return money.compact(value)


@register.filter
def short_number(value):
    """3_400_000 -> "3.4M"."""
    return charts.short_number(value)


@register.filter
def full_money(value):
    """1234.5678 -> "$1,234.57", for title attributes and exact columns."""
    return money.exact(value)


@register.filter
def full_number(value):
    if value is None:
        return charts.NO_VALUE
    return f"{Decimal(str(value)):,.0f}"


@register.filter
def percent(value, digits=1):
    """0.423 -> "42.3%" (a share); None -> an en dash."""
    if value is None:
        return charts.NO_VALUE
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def per_mtok(value):
    if value is None:
        return charts.NO_VALUE
    return f"{money.currency_symbol()}{Decimal(str(value)):,.3f}"
