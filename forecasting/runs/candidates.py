"""Extra candidate models for spend and token series: the core's models on a robust log scale.

Why: usage grows multiplicatively and its weekly pattern scales with the level (a weekend at
half of a weekday stays at half as traffic grows), which additive seasonal models get wrong by
a few percent, about the size of the noise of an aggregate series. One-day outliers (public
holidays, a runaway loop) in recent history also drag additive models' level down or up for
weeks. On the fake provider organisation the core's default candidates therefore did not beat
seasonal naive by the required margin (see tests/forecasting_django/test_accuracy.py).

The wrapped models see ``log(y + c)`` with isolated outliers replaced by the median of the same
weekday over the previous four weeks (a causal rule: a point is judged only by its past, so
backtests never use the future). Forecasts are transformed back to the original scale, so the
core scores them, selects among them and builds intervals exactly as for any other candidate:
backtest errors are always measured against the raw actuals, outliers included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecasting.models import ARIMA, ETS, Candidate, Fitted, SeasonalNaive, Theta

OUTLIER_LOG = 0.35  # |log ratio| to the recent same-weekday median: about -30% / +42%
OUTLIER_WEEKS = 4


def robust_log(values: np.ndarray, season: int) -> tuple[np.ndarray, float]:
    """``log(values + c)`` with isolated outliers replaced, and the offset ``c``."""
    positive = values[values > 0]
    # The offset keeps zeros finite without distorting the level of an active series.
    offset = 0.01 * float(np.median(positive)) if len(positive) else 1.0
    logs = np.log(np.clip(values, 0.0, None) + offset)
    cleaned = logs.copy()
    for t in range(season, len(logs)):
        same_phase = [
            cleaned[t - k * season] for k in range(1, OUTLIER_WEEKS + 1) if t - k * season >= 0
        ]
        if len(same_phase) >= 2:
            median = float(np.median(same_phase))
            if abs(logs[t] - median) > OUTLIER_LOG:
                cleaned[t] = median
    return cleaned, offset


def robust_log_of(inner: type[Candidate]) -> type[Candidate]:
    """A candidate fitting ``inner`` on the robust log scale."""

    class RobustLog(Candidate):
        name = f"rlog-{inner.name}"

        @property
        def min_points(self) -> int:  # type: ignore[override]
            return inner(self.y, season=self.season).min_points

        def fit(self) -> Fitted:
            return _RobustLogFit(self, inner)

    RobustLog.__name__ = RobustLog.__qualname__ = f"RobustLog{inner.__name__}"
    return RobustLog


class _RobustLogFit(Fitted):
    def __init__(self, model: Candidate, inner: type[Candidate]) -> None:
        super().__init__(model)
        logs, self.offset = robust_log(model.values, model.season)
        fitted = inner(
            pd.Series(logs, index=model.y.index),
            season=model.season,
            estimate_until=model.estimate_until,
        ).fit()
        self.inner = fitted
        self.name = f"rlog-{fitted.name}"

    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        return np.exp(self.inner.forecast_from(origin, steps)) - self.offset


RobustLogETS = robust_log_of(ETS)
RobustLogTheta = robust_log_of(Theta)

#: Candidates of every stored forecast: the core's daily set plus two robust log models.
SPEND_CANDIDATES: tuple[type[Candidate], ...] = (
    SeasonalNaive,
    ETS,
    ARIMA,
    Theta,
    RobustLogETS,
    RobustLogTheta,
)

#: The scenarios' 18-month demand baseline: one forecast per model x project x token measure,
#: computed on a page view (then cached for the day), so only the cheap, robust candidates
#: (seconds, not minutes); ARIMA and Theta cost ~0.1 s each per series (benchmarks).
BASELINE_CANDIDATES: tuple[type[Candidate], ...] = (SeasonalNaive, ETS, RobustLogETS)
