"""Bounds of user-supplied values that every page and import shares.

Dates outside `FIRST_DAY`..`LAST_DAY` are refused where they are parsed: a day such as
0001-01-01 or 9999-12-31 parses, but "the day before" or "a month later" then overflows
``date`` and PostgreSQL's range, which used to end in a 500.
"""

from __future__ import annotations

from datetime import date

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)


def check_day(day: date, name: str) -> date:
    """``day`` if it lies within the supported calendar; else ValueError naming ``name``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{name}: must be between {FIRST_DAY} and {LAST_DAY}, got {day}")
    return day


def parse_day(raw: str, name: str) -> date:
    """``YYYY-MM-DD`` within the supported calendar; ValueError naming ``name`` otherwise."""
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name}: expected a date as YYYY-MM-DD, got {raw[:40]!r}") from None
    return check_day(day, name)
