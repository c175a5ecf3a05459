"""Candidates on a robust log scale: the core's models for series that grow multiplicatively.

Why: usage and traffic grow multiplicatively and their weekly pattern scales with the level
(a weekend at half of a weekday stays at half as traffic grows), which additive seasonal
models get wrong by a few percent, about the size of the noise of an aggregate series.
One-day outliers (public holidays, a runaway loop, a page-view burst of 40x) in recent history
also drag additive models' level and seasonal profile for weeks.

The wrapped models see ``log(y + c)`` with isolated outliers replaced by the median of the same
weekday over the previous four weeks (a causal rule: a point is judged only by its past, so
backtests never use the future). Forecasts are transformed back to the original scale, so the
core scores them, selects among them and builds intervals exactly as for any other candidate:
backtest errors are always measured against the raw actuals, outliers included.

The back-transform gives the median of the forecast distribution, not its mean; for spend,
whose daily noise is skewed upwards, that is a slightly low but robust point forecast, and the
intervals (from raw-scale backtest errors) carry the skew.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models import Candidate, Fitted

OUTLIER_LOG = 0.35  # |log ratio| to the recent same-weekday median: about -30% / +42%
OUTLIER_WEEKS = 4


def robust_log(values: np.ndarray, season: int) -> tuple[np.ndarray, float]:
    """``log(values + c)`` with isolated outliers replaced, and the offset ``c``.

    Parameters
    ----------
    values : numpy.ndarray
        Non-negative observations (negative values are clipped at 0).
    season : int
        Season length; a point is compared with the same phase of the previous
        ``OUTLIER_WEEKS`` seasons.

    Returns
    -------
    logs : numpy.ndarray
        The cleaned log series.
    offset : float
        ``c``: 1% of the median positive value (keeps zeros finite without distorting the
        level of an active series).
    """
    positive = values[values > 0]
    offset = 0.01 * float(np.median(positive)) if len(positive) else 1.0
    logs = np.log(np.clip(values, 0.0, None) + offset)
    cleaned = logs.copy()
    for t in range(season, len(logs)):
        weeks = min(OUTLIER_WEEKS, t // season)
        same_phase = cleaned[t - weeks * season : t : season]
        if len(same_phase) >= 2:
            median = float(np.median(same_phase))
            if abs(logs[t] - median) > OUTLIER_LOG:
                cleaned[t] = median
    return cleaned, offset


def robust_log_of(inner: type[Candidate]) -> type[Candidate]:
    """A candidate fitting ``inner`` on the robust log scale (non-negative series only)."""

    class RobustLog(Candidate):
        name = f"rlog-{inner.name}"
        nonnegative_only = True

        @property
        def min_points(self) -> int:  # type: ignore[override]
            return inner(self.y, season=self.season).min_points

        def fit(self) -> Fitted:
            return _RobustLogFit(self, inner)

    RobustLog.__name__ = RobustLog.__qualname__ = f"RobustLog{inner.__name__}"
    RobustLog.__doc__ = f"{inner.__name__} fitted on the robust log scale (`robust_log`)."
    return RobustLog


class _RobustLogFit(Fitted):
    def __init__(self, model: Candidate, inner: type[Candidate]) -> None:
        super().__init__(model)
        logs, self.offset = robust_log(model.values, model.season)
        self.cap = float(np.log(np.max(model.values) + self.offset)) + np.log(10.0)
        fitted = inner(
            pd.Series(logs, index=model.y.index),
            season=model.season,
            estimate_until=model.estimate_until,
        ).fit()
        self.inner = fitted
        self.name = f"rlog-{fitted.name}"

    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        # Capped at 10x the largest observation before exp: a trend extrapolated on the log
        # scale would otherwise grow exponentially (the sanity band then rejects it anyway).
        logs = np.minimum(self.inner.forecast_from(origin, steps), self.cap)
        return np.exp(logs) - self.offset
