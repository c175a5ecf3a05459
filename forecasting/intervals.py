"""Empirical (split-conformal) prediction intervals from rolling-origin backtest errors.

Method
------
For the chosen model we have backtest errors ``E[j, h] = actual - forecast`` for origins ``j``
and horizon steps ``h = 1..H``. Errors grow with the horizon, so each step gets a scale

    s(h) = a * ((h + h0) / (1 + h0)) ** b,   0 <= b <= 1,

fitted by least squares on ``log mean_j |E[j, h]|`` against ``log h`` (``h0 = 0``). A power law
smooths the noisy per-step estimates and extrapolates beyond the backtest horizon, e.g. to a
90-day forecast from a 28-day backtest (``b`` is capped at 1: errors growing faster than
linearly are treated as noise in the estimate, not as a trend).

The normalised errors ``E / s(h)`` are pooled over origins and steps; the interval at level
``L`` is ``mean + s(h) * [q_lo, q_hi]`` with ``q`` the empirical ``(1 -/+ L) / 2`` quantiles of
the pooled scores, with the finite-sample conformal correction ``(n + 1) / n``. Quantiles are
taken separately for both tails, so a model that is biased in backtests gets a shifted interval.
Nothing in this is fitted to a coverage target: coverage follows from the errors being
exchangeable between the backtest origins and the future.

Sample paths (for budgets and totals) draw each step's error from the same marginal
distribution through a Gaussian copula with equicorrelation ``w``: ``z_h = sqrt(w) L +
sqrt(1 - w) e_h``. ``w`` is estimated from how much the per-origin *mean* error varies compared
to single errors, so sums over the horizon (month totals) get the dispersion seen in backtests.

For series too short to backtest, `ErrorModel.gaussian` gives a documented heuristic (normal
errors with the in-sample spread, widening like a random walk over seasons); it is *not*
calibrated and the forecast says so in its notes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

_EPS = 1e-12


@dataclass(frozen=True)
class ErrorModel:
    """Distribution of forecast errors per horizon step."""

    a: float
    b: float
    h0: float
    scores: np.ndarray
    corr: float

    def scale(self, steps: int) -> np.ndarray:
        """Error scale ``s(h)`` for ``h = 1..steps``."""
        h = np.arange(1, steps + 1, dtype=float)
        return self.a * ((h + self.h0) / (1.0 + self.h0)) ** self.b

    def quantiles(self, level: float) -> tuple[float, float]:
        """Lower and upper score quantiles for a central interval at ``level`` percent."""
        n = len(self.scores)
        upper_p = min(1.0, (0.5 + level / 200.0) * (n + 1) / n)
        lower_p = max(0.0, 1.0 - upper_p)
        lo = float(np.quantile(self.scores, lower_p, method="lower"))
        hi = float(np.quantile(self.scores, upper_p, method="higher"))
        return lo, hi

    def bounds(self, mean: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Interval bounds around ``mean`` at ``level`` percent."""
        s = self.scale(len(mean))
        lo, hi = self.quantiles(level)
        return mean + lo * s, mean + hi * s

    def sample_errors(self, steps: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` error paths of length ``steps`` (shape ``(n, steps)``)."""
        common = rng.standard_normal((n, 1))
        own = rng.standard_normal((n, steps))
        z = np.sqrt(self.corr) * common + np.sqrt(1.0 - self.corr) * own
        u = stats.norm.cdf(z)
        sorted_scores = np.sort(self.scores)
        grid = (np.arange(len(sorted_scores)) + 0.5) / len(sorted_scores)
        return np.interp(u, grid, sorted_scores) * self.scale(steps)[None, :]

    @classmethod
    def gaussian(cls, sd: float, season: int) -> ErrorModel:
        """Heuristic normal errors for series too short to backtest."""
        grid = (np.arange(400) + 0.5) / 400
        return cls(a=max(sd, _EPS), b=0.5, h0=season - 1.0, scores=stats.norm.ppf(grid), corr=0.5)


def _fit_scale(errors: np.ndarray) -> tuple[float, float]:
    mae = np.mean(np.abs(errors), axis=0)
    h = np.arange(1, errors.shape[1] + 1, dtype=float)
    ok = mae > _EPS
    if ok.sum() >= 2:
        slope = float(np.polyfit(np.log(h[ok]), np.log(mae[ok]), 1)[0])
        b = float(np.clip(slope, 0.0, 1.0))
        a = float(np.exp(np.mean(np.log(mae[ok]) - b * np.log(h[ok]))))
    else:
        b, a = 0.0, float(max(mae.mean(), _EPS))
    return max(a, _EPS), b


def _equicorrelation(scores: np.ndarray) -> float:
    centred = scores - scores.mean()
    total = float(np.mean(centred**2))
    steps = scores.shape[1]
    if total <= _EPS or scores.shape[0] < 2 or steps < 2:
        return 0.5
    ratio = steps * float(np.mean(centred.mean(axis=1) ** 2)) / total
    return float(np.clip((ratio - 1.0) / (steps - 1.0), 0.0, 0.99))


def fit_error_model(errors: np.ndarray) -> ErrorModel:
    """Fit the interval model on backtest errors of shape ``(origins, steps)``.

    Parameters
    ----------
    errors : numpy.ndarray
        ``actual - forecast`` for each origin (rows) and horizon step (columns).

    Returns
    -------
    ErrorModel
    """
    errors = np.asarray(errors, dtype=float)
    a, b = _fit_scale(errors)
    h = np.arange(1, errors.shape[1] + 1, dtype=float)
    scores = errors / (a * h**b)[None, :]
    return ErrorModel(a=a, b=b, h0=0.0, scores=scores.ravel(), corr=_equicorrelation(scores))


def loo_coverage(errors: np.ndarray, level: float) -> float:
    """Leave-one-origin-out coverage of the interval at ``level`` percent.

    Each origin's errors are checked against an interval calibrated on the other origins, so
    the figure is an honest estimate of coverage rather than the calibration target itself.
    """
    errors = np.asarray(errors, dtype=float)
    if errors.shape[0] < 2:
        return float("nan")
    hits = []
    for j in range(errors.shape[0]):
        model = fit_error_model(np.delete(errors, j, axis=0))
        lo, hi = model.bounds(np.zeros(errors.shape[1]), level)
        hits.append((errors[j] >= lo) & (errors[j] <= hi))
    return float(np.mean(hits))
