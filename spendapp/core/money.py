"""How an amount of money is written, on every page and in every email: one home.

Amounts are in the organisation's currency (``settings.ORG_CURRENCY``); Spendapp never converts.
Two forms:

- exact, for tables, emails and hover titles: ``$1,234.57`` (``-$12.30``);
- compact, for cards: ``$1.2k`` (cents kept under 1,000: ``$12.35``), always shown with the
  exact amount in its ``title``.

The symbol comes from a short table of common currencies; any other ISO code is written before
the amount (``SEK 1,234.57``). A locale library (Babel) would know every currency, but one
symbol per deployment does not justify a locale database.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings

NO_VALUE = "\u2013"  # an en dash, as in the dashboard's tables

SYMBOLS = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "CN¥",
    "INR": "₹",
    "KRW": "₩",
    "BRL": "R$",
    "CAD": "CA$",
    "AUD": "A$",
    "NZD": "NZ$",
    "MXN": "MX$",
    "HKD": "HK$",
    "SGD": "S$",
    "ILS": "₪",
    "PLN": "zł ",
    "CHF": "CHF ",
}

_CENT = Decimal("0.01")
_SCALES = ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"))


def currency_symbol(currency: str | None = None) -> str:
    """``"USD"`` -> ``"$"``; an unlisted code -> ``"SEK "`` (code and a space)."""
    code = (currency or settings.ORG_CURRENCY).upper()
    return SYMBOLS.get(code, f"{code} ")


def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def exact(value, currency: str | None = None) -> str:
    """``1234.567`` -> ``"$1,234.57"``; None -> an en dash."""
    number = _decimal(value)
    if number is None:
        return NO_VALUE
    sign = "-" if number < 0 else ""
    cents = abs(number).quantize(_CENT, rounding=ROUND_HALF_UP)
    if sign and not cents:
        sign = ""  # -0.001 rounds to $0.00, not -$0.00
    return f"{sign}{currency_symbol(currency)}{cents:,.2f}"


def compact(value, currency: str | None = None) -> str:
    """``1234.5`` -> ``"$1.2k"``, ``3_400_000`` -> ``"$3.4M"``, ``12.345`` -> ``"$12.35"``."""
    number = _decimal(value)
    if number is None:
        return NO_VALUE
    size = abs(number)
    if size < 1000:
        return exact(number, currency)
    sign = "-" if number < 0 else ""
    for scale, suffix in (*_SCALES, (Decimal(1000), "k")):
        if size >= scale:
            return f"{sign}{currency_symbol(currency)}{size / scale:.1f}{suffix}"
    raise AssertionError("unreachable: size >= 1000 matches the k scale")
