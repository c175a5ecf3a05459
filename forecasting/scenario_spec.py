"""Scenario specs: plain JSON-able data, validated into a normalised form.

A spec is ``{"name": str, "description": str?, "transforms": [{"type": ..., ...}, ...]}``.
Dates are ISO strings (``"2026-07-01"``); ``start`` defaults to the first forecast day.

Transform types and fields (defaults in brackets):

* ``shift``: ``from`` (``{"model"|"tier"|"project": name}``), ``to`` (model), ``share`` (0..1),
  ``start``, ``ramp`` (``"step"``, ``"linear"``, ``"s-curve"``) [step], ``months`` [12],
  ``token_ratio`` (> 0, multiplies output tokens of moved traffic) [1].
* ``route``: ``small``, ``frontier`` (models), ``share`` (0..1, served by ``small``),
  ``tier`` (only traffic of this tier; all if omitted), ``start``, ``ramp``, ``months``,
  ``token_ratio`` [1].
* ``price_change``: ``model``, and ``prices`` (``{"input"|"cached_input"|"output"|"request":
  price}``, new list price from ``start``) and/or ``monthly_change`` (e.g. -0.05 = 5%
  deflation a month from ``start``).
* ``growth``: ``factor`` (> 0) or ``monthly`` (> -1, compounding), ``where``, ``start``.
* ``fewer_calls``: ``reduction`` (0..1) of requests and proportionally tokens.
* ``shorter_context``: ``reduction`` (0..1) of input tokens (cached input shrinks alike).
* ``cache_hit``: ``share`` (0..1) of input tokens charged at the cached rate.

``fewer_calls``, ``shorter_context`` and ``cache_hit`` also accept ``where``, ``start``,
``ramp`` and ``months``. ``where`` is ``{"model"|"tier"|"project": name}``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import pandas as pd

from forecasting.errors import ScenarioError

RAMPS = ("step", "linear", "s-curve")
SELECTORS = ("model", "tier", "project")
PRICE_FIELDS = ("input", "cached_input", "output", "request")
_FIELDS = {
    "shift": {"from", "to", "share", "start", "ramp", "months", "token_ratio"},
    "route": {"small", "frontier", "share", "tier", "start", "ramp", "months", "token_ratio"},
    "price_change": {"model", "prices", "monthly_change", "start"},
    "growth": {"factor", "monthly", "where", "start"},
    "fewer_calls": {"reduction", "where", "start", "ramp", "months"},
    "shorter_context": {"reduction", "where", "start", "ramp", "months"},
    "cache_hit": {"share", "where", "start", "ramp", "months"},
}


def _number(path: str, value: object, lo: float | None, hi: float | None, *, open_lo=False):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{path}: must be a number, got {value!r}")
    value = float(value)
    if lo is not None and (value < lo or (open_lo and value == lo)):
        bound = f"greater than {lo:g}" if open_lo else f"at least {lo:g}"
        if hi is not None:
            bound = f"between {lo:g} and {hi:g}"
        raise ScenarioError(f"{path}: must be {bound}, got {value:g}")
    if hi is not None and value > hi:
        raise ScenarioError(f"{path}: must be between {lo:g} and {hi:g}, got {value:g}")
    return value


def _name(path: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{path}: must be a non-empty string, got {value!r}")
    return value


def _selector(path: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in SELECTORS:
        raise ScenarioError(f"{path}: must be one of {{'model'|'tier'|'project': name}}")
    key, name = next(iter(value.items()))
    return {key: _name(f"{path}.{key}", name)}


def _date(path: str, value: object) -> str | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        raise ScenarioError(f"{path}: must be an ISO date, got {value!r}") from None


def _ramp(path: str, t: dict) -> None:
    ramp = t.get("ramp", "step")
    if ramp not in RAMPS:
        raise ScenarioError(f"{path}.ramp: must be one of {RAMPS}, got {ramp!r}")
    t["ramp"] = ramp
    t["months"] = _number(f"{path}.months", t.get("months", 12), 0, None, open_lo=True)


def _validate_transform(path: str, raw: object) -> dict:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{path}: must be an object")
    kind = raw.get("type")
    if kind not in _FIELDS:
        raise ScenarioError(f"{path}.type: must be one of {tuple(_FIELDS)}, got {kind!r}")
    unknown = set(raw) - _FIELDS[kind] - {"type"}
    if unknown:
        raise ScenarioError(f"{path}.{sorted(unknown)[0]}: unknown field for {kind}")
    t = dict(copy.deepcopy(raw))
    t["start"] = _date(f"{path}.start", t.get("start"))
    if "where" in t:
        t["where"] = _selector(f"{path}.where", t["where"])
    if kind in ("shift", "route", "fewer_calls", "shorter_context", "cache_hit"):
        _ramp(path, t)
    for field in ("share", "reduction"):
        if field in _FIELDS[kind]:
            if field not in t:
                raise ScenarioError(f"{path}.{field}: is required")
            t[field] = _number(f"{path}.{field}", t[field], 0, 1)
    if "token_ratio" in _FIELDS[kind]:
        t["token_ratio"] = _number(
            f"{path}.token_ratio", t.get("token_ratio", 1.0), 0, None, open_lo=True
        )
    if kind == "shift":
        t["from"] = _selector(f"{path}.from", t.get("from"))
        t["to"] = _name(f"{path}.to", t.get("to"))
    elif kind == "route":
        t["small"] = _name(f"{path}.small", t.get("small"))
        t["frontier"] = _name(f"{path}.frontier", t.get("frontier"))
        t["tier"] = None if t.get("tier") is None else _name(f"{path}.tier", t["tier"])
    elif kind == "price_change":
        _validate_price_change(path, t)
    elif kind == "growth":
        if ("factor" in t) == ("monthly" in t):
            raise ScenarioError(f"{path}.factor: give exactly one of 'factor' or 'monthly'")
        if "factor" in t:
            t["factor"] = _number(f"{path}.factor", t["factor"], 0, None, open_lo=True)
        else:
            t["monthly"] = _number(f"{path}.monthly", t["monthly"], -1, None, open_lo=True)
    return t


def _validate_price_change(path: str, t: dict) -> None:
    t["model"] = _name(f"{path}.model", t.get("model"))
    if "prices" not in t and "monthly_change" not in t:
        raise ScenarioError(f"{path}.prices: give 'prices' and/or 'monthly_change'")
    if "prices" in t:
        if not isinstance(t["prices"], Mapping) or not t["prices"]:
            raise ScenarioError(f"{path}.prices: must be an object of prices")
        for key, value in t["prices"].items():
            if key not in PRICE_FIELDS:
                raise ScenarioError(f"{path}.prices.{key}: unknown price, use {PRICE_FIELDS}")
            t["prices"][key] = _number(f"{path}.prices.{key}", value, 0, None)
    if "monthly_change" in t:
        t["monthly_change"] = _number(
            f"{path}.monthly_change", t["monthly_change"], -1, None, open_lo=True
        )


def validate_spec(spec: object) -> dict:
    """Validate a scenario spec and return it normalised (defaults filled in).

    Parameters
    ----------
    spec : dict
        ``{"name": str, "transforms": [...]}``, see the module docstring.

    Returns
    -------
    dict
        A new dict; the input is not modified.

    Raises
    ------
    ScenarioError
        Naming the offending field, e.g. ``transforms[1].share: must be between 0 and 1``.
    """
    if not isinstance(spec, Mapping):
        raise ScenarioError("spec: must be an object with 'name' and 'transforms'")
    name = _name("name", spec.get("name"))
    transforms = spec.get("transforms")
    if not isinstance(transforms, list):
        raise ScenarioError("transforms: must be a list")
    unknown = set(spec) - {"name", "description", "transforms"}
    if unknown:
        raise ScenarioError(f"{sorted(unknown)[0]}: unknown field")
    return {
        "name": name,
        "description": str(spec.get("description", "")),
        "transforms": [
            _validate_transform(f"transforms[{i}]", t) for i, t in enumerate(transforms)
        ],
    }
