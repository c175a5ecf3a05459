"""Model names in plain words, for pages and emails (one function, so every page agrees).

>>> describe_model("ets(A,Ad,A)")
'weekly pattern, damped trend'
>>> describe_model("median(ets(A,Ad,A)+rlog-theta+theta(mul))")
'median of 3 methods'
"""

from __future__ import annotations

import re

_PLAIN = {
    "zero": "zero: no spend so far",
    "snaive": "same as last week",
    "mean_last_season": "average of the last week (too little history to compare methods)",
    "ets(A,Ad,A)": "weekly pattern, damped trend",
    "ets(M,Ad,M)": "weekly pattern in proportion to the level, damped trend",
    "theta": "weekly pattern, steady trend (Theta)",
    "theta(mul)": "weekly pattern in proportion to the level, steady trend (Theta)",
    "mstl": "daily and weekly patterns, damped trend",
}
_COMBINED = re.compile(r"^(median|combo)\((.*)\)$")


def describe_model(name: str) -> str:
    """Say what a forecast model does in words a finance reader knows.

    Parameters
    ----------
    name : str
        `forecasting.Forecast.model`, e.g. ``"rlog-ets(A,Ad,A)"`` or ``"median(a+b+c)"``.

    Returns
    -------
    str
        E.g. ``"weekly pattern, damped trend, growth in percent, spikes ignored"``; an unknown
        name is returned as it is.
    """
    name = str(name)
    combined = _COMBINED.match(name)
    if combined:
        count = len(_split(combined.group(2)))
        kind = "median" if combined.group(1) == "median" else "average"
        return f"{kind} of {count} methods"
    if name.startswith("rlog-"):
        return describe_model(name.removeprefix("rlog-")) + ", growth in percent, spikes ignored"
    if name.startswith("arima"):
        return "weekly pattern, recent ups and downs carried forward (ARIMA)"
    return _PLAIN.get(name, name)


def _split(inner: str) -> list[str]:
    """Split ``a+b+c`` at the top level (names hold parentheses and commas, never ``+``)."""
    return [part for part in inner.split("+") if part]
