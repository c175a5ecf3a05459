"""Input validation and cleaning of a usage series before modelling.

Gap policy
----------
Spend and token series come from usage rows: a day without rows is a day without usage, so
missing timestamps (and NaN values) inside the observed span are filled with **0** by default.
``fill="interpolate"`` is available for measures where a gap means "not reported" rather than
"nothing happened".

Leading inactivity (NaN or zeros before the first non-zero value, e.g. a model that started
last month) is *not* data: it is trimmed so that models do not learn a fake level shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.errors import ForecastError

MIN_POINTS = 7
_FILLS = ("zero", "interpolate")


@dataclass(frozen=True)
class Prepared:
    """A cleaned series on a regular index, ready for the candidate models."""

    y: pd.Series
    freq: str
    season: int
    notes: list[str] = field(default_factory=list)

    @property
    def all_zero(self) -> bool:
        return bool((self.y == 0).all())


def infer_freq(index: pd.DatetimeIndex) -> str:
    """Return ``"D"`` or ``"h"`` for a daily or hourly index, else raise `ForecastError`."""
    if index.freq is not None:
        offset = pd.tseries.frequencies.to_offset(index.freq)
        if offset == pd.offsets.Day(1):
            return "D"
        if offset == pd.offsets.Hour(1):
            return "h"
    step = pd.Series(index).diff().dropna().min()
    if step == pd.Timedelta(days=1):
        return "D"
    if step == pd.Timedelta(hours=1):
        return "h"
    raise ForecastError(f"y: index must be daily or hourly, smallest step is {step}")


def _validate(y: object) -> pd.Series:
    if not isinstance(y, pd.Series):
        raise ForecastError(f"y: must be a pandas Series, got {type(y).__name__}")
    if not isinstance(y.index, pd.DatetimeIndex):
        raise ForecastError("y: index must be a DatetimeIndex")
    if not (pd.api.types.is_numeric_dtype(y.dtype) or y.dtype == object):
        raise ForecastError(f"y: values must be numeric, got dtype {y.dtype}")
    try:
        values = pd.to_numeric(y, errors="raise").astype(float)
    except (TypeError, ValueError) as exc:
        raise ForecastError(f"y: values must be numeric ({exc})") from None
    if np.isinf(values.to_numpy()).any():
        raise ForecastError("y: contains infinite values")
    return values


def prepare(
    y: pd.Series,
    *,
    fill: str = "zero",
    trim_leading: bool = True,
    max_history: int | None = None,
) -> Prepared:
    """Validate ``y`` and return it on a full regular index with gaps filled.

    Parameters
    ----------
    y : pandas.Series
        Observations on a daily or hourly DatetimeIndex; duplicate timestamps are summed.
    fill : {"zero", "interpolate"}
        How missing timestamps and NaN values inside the observed span are filled.
    trim_leading : bool
        Drop NaN/zero values before the first non-zero observation.
    max_history : int, optional
        Keep only the most recent ``max_history`` points (older data rarely helps and costs
        fitting time).

    Returns
    -------
    Prepared
        The cleaned series, its frequency, season length and notes on what was changed.

    Raises
    ------
    ForecastError
        On a non-Series input, a non-daily/hourly index or too few observations.
    """
    if fill not in _FILLS:
        raise ForecastError(f"fill: must be one of {_FILLS}, got {fill!r}")
    values = _validate(y)
    notes: list[str] = []
    if values.index.tz is not None:
        values = values.tz_convert(None)
    if values.index.has_duplicates:
        notes.append("summed duplicate timestamps")
        values = values.groupby(level=0).sum(min_count=1)
    values = values.sort_index()
    if values.notna().sum() < MIN_POINTS:
        raise ForecastError(
            f"y: needs at least {MIN_POINTS} observations, got {int(values.notna().sum())}"
        )
    freq = infer_freq(values.index)
    full = pd.date_range(values.index[0], values.index[-1], freq=freq)
    missing = len(full) - int(values.notna().reindex(full, fill_value=False).sum())
    values = values.reindex(full)
    if trim_leading:
        active = values.fillna(0).to_numpy() != 0
        if active.any():
            first = int(np.argmax(active))
            if first > 0:
                notes.append(f"ignored {first} leading points before first use")
                missing -= int(values.iloc[:first].isna().sum())
                values = values.iloc[first:]
    if missing > 0:
        notes.append(f"filled {missing} missing points with {fill}")
        values = values.fillna(0.0) if fill == "zero" else values.interpolate().fillna(0.0)
    if max_history is not None and len(values) > max_history:
        values = values.iloc[-max_history:]
    if len(values) < MIN_POINTS:
        raise ForecastError(
            f"y: needs at least {MIN_POINTS} points after trimming leading inactivity, "
            f"got {len(values)}"
        )
    values.index = pd.date_range(values.index[0], periods=len(values), freq=freq)
    season = 7 if freq == "D" else 24
    return Prepared(y=values.rename(y.name), freq=freq, season=season, notes=notes)
