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

A spec may carry ``assumptions`` about the prices of models the organisation does not use
yet: ``discount`` (0..0.9, a negotiated discount off list) and ``carry_ratio`` (bool, default
true: the provider's effective ratio, its batch share and discounts, carries over to its other
models where the organisation has billing history with that provider).

``fewer_calls``, ``shorter_context`` and ``cache_hit`` also accept ``where``, ``start``,
``ramp`` and ``months``. ``where`` is ``{"model"|"tier"|"project": name}``.

Limits (an Engineering user must not be able to stall the site with one POST): at most
`MAX_TRANSFORMS` transforms, JSON text of at most `MAX_JSON_BYTES`, nesting of at most
`MAX_DEPTH`, every number finite and inside its range, names of at most `MAX_NAME_LENGTH`
characters and notes of at most `MAX_NOTES_LENGTH`, no NUL or other control characters. The
cheap checks (size, count, depth) run before any per-transform work.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping

import pandas as pd

from forecasting.errors import ScenarioError

RAMPS = ("step", "linear", "s-curve")
SELECTORS = ("model", "tier", "project")
PRICE_FIELDS = ("input", "cached_input", "output", "request")
MAX_TRANSFORMS = 20
MAX_JSON_BYTES = 64 * 1024
MAX_DEPTH = 6  # spec > transforms > transform > prices/where > value, with room to spare
MAX_NAME_LENGTH = 200  # Scenario.name's max_length
MAX_NOTES_LENGTH = 2000
# Upper bounds of the open-ended numbers: far beyond any sensible plan, far below overflow.
# Together, compounded over a long horizon, they still price within Decimal's 28 digits.
MAX_RATIO = 100.0  # token_ratio, growth factor
MAX_MONTHLY = 1.0  # growth or price change per month (+100%, compounding)
MAX_MONTHS = 120.0  # ramp length
MAX_PRICE = 10_000.0  # per million tokens or per request
MAX_DISCOUNT = 0.9
FIRST_YEAR, LAST_YEAR = 2000, 2100
_FIELDS = {
    "shift": {"from", "to", "share", "start", "ramp", "months", "token_ratio"},
    "route": {"small", "frontier", "share", "tier", "start", "ramp", "months", "token_ratio"},
    "price_change": {"model", "prices", "monthly_change", "start"},
    "growth": {"factor", "monthly", "where", "start"},
    "fewer_calls": {"reduction", "where", "start", "ramp", "months"},
    "shorter_context": {"reduction", "where", "start", "ramp", "months"},
    "cache_hit": {"share", "where", "start", "ramp", "months"},
}


def _number(path: str, value: object, lo: float, hi: float, *, open_lo=False):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{path}: must be a number, got {_short(value)}")
    try:
        value = float(value)
    except OverflowError:  # an int with hundreds of digits
        raise ScenarioError(f"{path}: must be between {lo:g} and {hi:g}") from None
    if not math.isfinite(value):
        raise ScenarioError(f"{path}: must be a finite number, got {value}")
    if value < lo or (open_lo and value == lo) or value > hi:
        bound = (
            f"greater than {lo:g} and at most {hi:g}" if open_lo else f"between {lo:g} and {hi:g}"
        )
        raise ScenarioError(f"{path}: must be {bound}, got {value:g}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _text(path: str, value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{path}: must be a string, got {_short(value)}")
    if len(value) > max_length:
        raise ScenarioError(f"{path}: at most {max_length} characters, got {len(value)}")
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ScenarioError(f"{path}: must not contain NUL or other control characters")
    return value


def _name(path: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{path}: must be a non-empty string, got {_short(value)}")
    return _text(path, value, MAX_NAME_LENGTH)


def _depth(value: object) -> int:
    """Nesting depth of lists and dicts, without recursion (a deep value must not crash us)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list | tuple):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _reject_constant(name: str):
    raise ScenarioError(f"transforms: {name} is not a number JSON allows")


def parse_transforms(text: str, path: str = "transforms") -> object:
    """Parse the JSON text of a spec or its transforms, within `MAX_JSON_BYTES` and
    `MAX_DEPTH` (checked before and after parsing: Python's parser recurses)."""
    if len(text.encode()) > MAX_JSON_BYTES:
        raise ScenarioError(f"{path}: at most {MAX_JSON_BYTES // 1024} KB of JSON")
    depth = 0
    for char in text:  # brackets inside strings count too: a safe over-estimate
        depth += (char in "[{") - (char in "]}")
        if depth > MAX_DEPTH:
            raise ScenarioError(f"{path}: nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _selector(path: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or len(value) != 1 or next(iter(value)) not in SELECTORS:
        raise ScenarioError(f"{path}: must be one of {{'model'|'tier'|'project': name}}")
    key, name = next(iter(value.items()))
    return {key: _name(f"{path}.{key}", name)}


def _date(path: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ScenarioError(f"{path}: must be an ISO date, got {_short(value)}")
    try:
        day = pd.Timestamp(value).date()
    except (TypeError, ValueError, OverflowError):
        raise ScenarioError(f"{path}: must be an ISO date, got {_short(value)}") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ScenarioError(f"{path}: must be between {FIRST_YEAR} and {LAST_YEAR}, got {day}")
    return day.isoformat()


def _ramp(path: str, t: dict) -> None:
    ramp = t.get("ramp", "step")
    if ramp not in RAMPS:
        raise ScenarioError(f"{path}.ramp: must be one of {RAMPS}, got {_short(ramp)}")
    t["ramp"] = ramp
    t["months"] = _number(f"{path}.months", t.get("months", 12), 0, MAX_MONTHS, open_lo=True)


def _validate_transform(path: str, raw: object) -> dict:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{path}: must be an object")
    kind = raw.get("type")
    if kind not in _FIELDS:
        raise ScenarioError(f"{path}.type: must be one of {tuple(_FIELDS)}, got {_short(kind)}")
    unknown = set(raw) - _FIELDS[kind] - {"type"}
    if unknown:
        raise ScenarioError(
            f"{path}.{_short(sorted(map(str, unknown))[0])}: unknown field for {kind}"
        )
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
            f"{path}.token_ratio", t.get("token_ratio", 1.0), 0, MAX_RATIO, open_lo=True
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
            t["factor"] = _number(f"{path}.factor", t["factor"], 0, MAX_RATIO, open_lo=True)
        else:
            t["monthly"] = _number(f"{path}.monthly", t["monthly"], -1, MAX_MONTHLY, open_lo=True)
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
                raise ScenarioError(
                    f"{path}.prices.{_short(key)}: unknown price, use {PRICE_FIELDS}"
                )
            t["prices"][key] = _number(f"{path}.prices.{key}", value, 0, MAX_PRICE)
    if "monthly_change" in t:
        t["monthly_change"] = _number(
            f"{path}.monthly_change", t["monthly_change"], -1, MAX_MONTHLY, open_lo=True
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
    transforms = spec.get("transforms")
    if not isinstance(transforms, list):
        raise ScenarioError("transforms: must be a list")
    if len(transforms) > MAX_TRANSFORMS:
        raise ScenarioError(f"transforms: at most {MAX_TRANSFORMS}, got {len(transforms)}")
    if _depth(spec) > MAX_DEPTH:
        raise ScenarioError(f"transforms: nested more than {MAX_DEPTH} levels deep")
    name = _name("name", spec.get("name"))
    unknown = set(spec) - {"name", "description", "transforms", "assumptions"}
    if unknown:
        raise ScenarioError(f"{_short(sorted(map(str, unknown))[0])}: unknown field")
    out = {
        "name": name,
        "description": _text("description", spec.get("description", ""), MAX_NOTES_LENGTH),
        "transforms": [
            _validate_transform(f"transforms[{i}]", t) for i, t in enumerate(transforms)
        ],
    }
    if spec.get("assumptions") is not None:
        out["assumptions"] = _assumptions(spec["assumptions"])
    return out


def _assumptions(raw: object) -> dict:
    if not isinstance(raw, Mapping):
        raise ScenarioError("assumptions: must be an object")
    unknown = set(raw) - {"discount", "carry_ratio"}
    if unknown:
        raise ScenarioError(f"assumptions.{_short(sorted(map(str, unknown))[0])}: unknown field")
    carry = raw.get("carry_ratio", True)
    if not isinstance(carry, bool):
        raise ScenarioError(f"assumptions.carry_ratio: must be true or false, got {_short(carry)}")
    discount = _number("assumptions.discount", raw.get("discount", 0.0), 0, MAX_DISCOUNT)
    return {"discount": discount, "carry_ratio": carry}
