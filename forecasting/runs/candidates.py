"""Candidate sets of the stored forecasts: the core's own, so runs and pages match `forecast()`.

The robust log candidates that used to live here are now part of the core's default daily set
(`forecasting.transforms`, `forecasting.core.DAILY_CANDIDATES`): a stored run, a page and a
direct call of `forecasting.forecast` choose among the same models.
"""

from __future__ import annotations

from forecasting.core import DAILY_CANDIDATES, RobustLogETS, RobustLogTheta
from forecasting.models import ETS, Candidate, SeasonalNaive
from forecasting.transforms import robust_log, robust_log_of

#: Candidates of every stored forecast: exactly the core's default daily set.
SPEND_CANDIDATES: tuple[type[Candidate], ...] = DAILY_CANDIDATES

#: The scenarios' 18-month demand baseline: one forecast per model x project x token measure,
#: computed on a page view (then cached for the day), so only the cheap, robust candidates
#: (seconds, not minutes); ARIMA and Theta cost ~0.1 s each per series (benchmarks).
BASELINE_CANDIDATES: tuple[type[Candidate], ...] = (SeasonalNaive, ETS, RobustLogETS)

__all__ = [
    "BASELINE_CANDIDATES",
    "SPEND_CANDIDATES",
    "RobustLogETS",
    "RobustLogTheta",
    "robust_log",
    "robust_log_of",
]
