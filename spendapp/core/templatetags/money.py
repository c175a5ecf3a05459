"""``{% load money %}``: the template side of `spendapp.core.money`.

- ``{{ amount|money }}``: exact, for table cells and emails (``$1,234.57``);
- ``{{ amount|money_short }}``: compact (``$1.2k``), only where the exact amount is in a title;
- ``{% money_compact amount %}``: the compact form in a ``<span class="money">`` whose title is
  the exact amount, for cards.

Cells and spans that show an amount carry the ``money`` class; the browser tests check that
each of them shows the currency.
"""

from __future__ import annotations

from django import template
from django.utils.html import format_html

from spendapp.core import money as formats

register = template.Library()


@register.filter
def money(value, currency: str | None = None) -> str:
    return formats.exact(value, currency)


@register.filter
def money_short(value, currency: str | None = None) -> str:
    return formats.compact(value, currency)


@register.simple_tag
def money_compact(value, currency: str | None = None) -> str:
    return format_html(
        '<span class="money" title="{}">{}</span>',
        formats.exact(value, currency),
        formats.compact(value, currency),
    )
