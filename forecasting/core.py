"""Per-series automatic forecasting: candidates, rolling-origin selection, intervals.

`forecast` cleans the series (`forecasting.prep`), backtests every candidate from several
rolling origins under a guard (`forecasting.backtest`), adds equal-weight combinations of the
best two and three candidates, picks the lowest MASE and builds empirical intervals from the
chosen model's backtest errors (`forecasting.intervals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting.backtest import (
    Plan,
    Rejection,
    Run,
    actuals,
    mase,
    plan_origins,
    run_candidate,
    sanity_band,
    scores_frame,
)
from forecasting.errors import ForecastError
from forecasting.intervals import ErrorModel, fit_error_model, loo_coverage
from forecasting.models import DAILY_CANDIDATES, HOURLY_CANDIDATES, Candidate, WindowMean
from forecasting.prep import prepare

DEFAULT_HISTORY = {"D": 365, "h": 24 * 7 * 8}
BASELINE = "snaive"


@dataclass(frozen=True)
class Forecast:
    """Result of `forecast`: point forecast, intervals and how they were obtained.

    Attributes
    ----------
    mean : pandas.Series
        Point forecast over the horizon, indexed by the dates after the input's end.
    lower, upper : dict[int, pandas.Series]
        Interval bounds per level (percent).
    model : str
        Name of the chosen model, e.g. ``"ets(A,Ad,A)"`` or ``"combo(ets(A,Ad,A)+theta)"``.
    scores : pandas.DataFrame
        Backtest scores per candidate: MASE, MASE relative to seasonal naive,
        leave-one-origin-out interval coverage, fit seconds, and which was chosen.
    notes : tuple[str, ...]
        Cleaning steps and fallbacks taken.
    rejected : tuple[Rejection, ...]
        Candidates whose fit was rejected, with the reason.
    """

    mean: pd.Series
    lower: dict[int, pd.Series]
    upper: dict[int, pd.Series]
    model: str
    scores: pd.DataFrame
    notes: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    errors: ErrorModel = field(repr=False)
    nonnegative: bool = True

    def sample_paths(self, n: int = 1000, *, seed: int = 0) -> pd.DataFrame:
        """Simulate ``n`` future paths consistent with the intervals.

        Parameters
        ----------
        n : int
            Number of paths.
        seed : int
            Seed for ``numpy.random.default_rng``.

        Returns
        -------
        pandas.DataFrame
            One row per path, one column per forecast timestamp.
        """
        return self.sample_paths_with(np.random.default_rng(seed), n)

    def sample_paths_with(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        """Like `sample_paths` but drawing from a caller-owned generator."""
        mean = self.mean.to_numpy()
        paths = mean[None, :] + self.errors.sample_errors(len(mean), n, rng)
        if self.nonnegative:
            paths = np.clip(paths, 0.0, None)
        return pd.DataFrame(paths, columns=self.mean.index)

    def to_frame(self) -> pd.DataFrame:
        """Mean and bounds as columns ``mean, lower_80, upper_80, ...``."""
        data = {"mean": self.mean}
        for level in sorted(self.lower):
            data[f"lower_{level}"] = self.lower[level]
            data[f"upper_{level}"] = self.upper[level]
        return pd.DataFrame(data)


def _check_options(horizon: object, levels: Sequence[float], n_origins: object) -> None:
    if not isinstance(horizon, int | np.integer) or isinstance(horizon, bool) or horizon < 1:
        raise ForecastError(f"horizon: must be a positive integer, got {horizon!r}")
    if not levels:
        raise ForecastError("levels: must contain at least one level")
    for level in levels:
        if not isinstance(level, int | float) or not 0 < level < 100:
            raise ForecastError(f"levels: each level must be in (0, 100), got {level!r}")
    if not isinstance(n_origins, int) or n_origins < 3:
        raise ForecastError(f"n_origins: must be an integer >= 3, got {n_origins!r}")


def _future_index(y: pd.Series, freq: str, horizon: int) -> pd.DatetimeIndex:
    return pd.date_range(y.index[-1], periods=horizon + 1, freq=freq)[1:]


def _build(
    mean: np.ndarray,
    errors: ErrorModel,
    index: pd.DatetimeIndex,
    levels: Sequence[float],
    nonnegative: bool,
    **info,
) -> Forecast:
    clip = (lambda a: np.clip(a, 0.0, None)) if nonnegative else (lambda a: a)
    lower, upper = {}, {}
    for level in levels:
        lo, hi = errors.bounds(mean, level)
        lower[level] = pd.Series(clip(np.minimum(lo, mean)), index=index)
        upper[level] = pd.Series(clip(np.maximum(hi, mean)), index=index)
    return Forecast(
        mean=pd.Series(clip(mean), index=index),
        lower=lower,
        upper=upper,
        errors=errors,
        nonnegative=nonnegative,
        **info,
    )


def _fallback(values, season, horizon, index, levels, nonnegative, notes, rejected):
    fitted = WindowMean(pd.Series(values), season=season).fit()
    mean = fitted.forecast(horizon)
    residuals = [values[t] - np.mean(values[t - season : t]) for t in range(season, len(values))]
    spread = np.std(residuals) if len(residuals) >= 3 else np.std(values)
    notes.append(
        f"series too short to backtest ({len(values)} points): used the mean of the last "
        f"{season} points with heuristic (uncalibrated) normal intervals"
    )
    return _build(
        mean,
        ErrorModel.gaussian(float(spread), season),
        index,
        levels,
        nonnegative,
        model=fitted.name,
        scores=scores_frame([]),
        notes=tuple(notes),
        rejected=tuple(rejected),
    )


def _combinations(runs: list[Run], scored: dict[str, float], values, plan, season) -> None:
    ranked = sorted((r for r in runs if r.name != BASELINE), key=lambda r: scored[r.name])
    for size in (2, 3):
        if len(ranked) < size:
            break
        parts = ranked[:size]
        name = "combo(" + "+".join(sorted(r.name for r in parts)) + ")"
        combo = Run(
            name=name,
            backtest=np.mean([r.backtest for r in parts], axis=0),
            final=np.mean([r.final for r in parts], axis=0),
            seconds=0.0,
        )
        runs.append(combo)
        scored[name] = mase(values, plan, _clipped(combo.backtest), season)


def _clipped(a: np.ndarray, nonnegative: bool = True) -> np.ndarray:
    return np.clip(a, 0.0, None) if nonnegative else a


def forecast(
    y: pd.Series,
    *,
    horizon: int,
    levels: Sequence[float] = (80, 95),
    fill: str = "zero",
    nonnegative: bool = True,
    n_origins: int = 8,
    backtest_horizon: int | None = None,
    max_history: int | None = None,
    candidates: Sequence[type[Candidate]] | None = None,
    combine: bool = True,
) -> Forecast:
    """Forecast one series with the model that does best in a rolling-origin backtest.

    Parameters
    ----------
    y : pandas.Series
        Observations on a daily or hourly DatetimeIndex (gaps allowed, see `prepare`).
    horizon : int
        Number of future steps.
    levels : sequence of float
        Interval levels in percent.
    fill : {"zero", "interpolate"}
        Gap filling policy; zero suits spend and tokens (no rows means no usage).
    nonnegative : bool
        Clip the forecast, its intervals and sample paths at 0 (money and tokens).
    n_origins : int
        Backtest origins, one season apart (fewer are used on short series).
    backtest_horizon : int, optional
        Steps scored per origin; default ``min(horizon, 4 seasons)``.
    max_history : int, optional
        Most recent points used; default 365 days or 8 weeks of hours.
    candidates : sequence of Candidate classes, optional
        Candidate models; default seasonal naive, ETS, ARIMA and Theta (MSTL for hourly).
    combine : bool
        Also score the mean of the best two and three candidates.

    Returns
    -------
    Forecast

    Raises
    ------
    ForecastError
        On invalid options or a series with fewer than 7 usable points.
    """
    _check_options(horizon, levels, n_origins)
    prep = prepare(y, fill=fill, max_history=None)
    history = max_history or DEFAULT_HISTORY[prep.freq]
    values = prep.y.to_numpy()[-history:]
    season, notes, rejected = prep.season, list(prep.notes), []
    index = _future_index(prep.y, prep.freq, horizon)
    if prep.all_zero:
        notes.append("series is all zeros: forecast is zero")
        zero = ErrorModel(a=1e-12, b=0.0, h0=0.0, scores=np.zeros(1), corr=0.0)
        return _build(
            np.zeros(horizon),
            zero,
            index,
            levels,
            nonnegative,
            model="zero",
            scores=scores_frame([]),
            notes=tuple(notes),
            rejected=(),
        )
    candidates = candidates or (DAILY_CANDIDATES if prep.freq == "D" else HOURLY_CANDIDATES)
    plan = plan_origins(
        len(values),
        season=season,
        horizon=horizon,
        n_origins=n_origins,
        max_steps=backtest_horizon or 4 * season,
        min_train=season + 1,
    )
    if plan is None:
        return _fallback(values, season, horizon, index, levels, nonnegative, notes, rejected)
    runs = _run_all(
        candidates, values, prep.y.index[-len(values) :], season, plan, horizon, notes, rejected
    )
    if not runs:
        return _fallback(values, season, horizon, index, levels, nonnegative, notes, rejected)
    return _select(runs, values, plan, season, index, levels, nonnegative, combine, notes, rejected)


def _run_all(candidates, values, dates, season, plan: Plan, horizon, notes, rejected):
    band = sanity_band(values)
    series = pd.Series(values, index=dates)
    runs = []
    for cls in candidates:
        model = cls(series, season=season, estimate_until=plan.estimate_until)
        if plan.estimate_until < model.min_points:
            notes.append(
                f"{model.name}: skipped, needs {model.min_points} points before the "
                f"first backtest origin, has {plan.estimate_until}"
            )
            continue
        outcome = run_candidate(model, plan, horizon, band=band)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
            notes.append(f"{outcome.model}: rejected ({outcome.reason}); next candidate taken")
        else:
            runs.append(outcome)
    return runs


def _select(runs, values, plan, season, index, levels, nonnegative, combine, notes, rejected):
    scored = {r.name: mase(values, plan, _clipped(r.backtest, nonnegative), season) for r in runs}
    if combine:
        _combinations(runs, scored, values, plan, season)
    best = min(runs, key=lambda r: scored[r.name])
    truth = actuals(values, plan)
    level = 80 if 80 in levels else levels[0]
    base = scored.get(BASELINE)
    rows = []
    for run in runs:
        errors = truth - _clipped(run.backtest, nonnegative)
        rows.append(
            {
                "model": run.name,
                "mase": scored[run.name],
                "relative_mase": scored[run.name] / base if base else np.nan,
                "coverage": loo_coverage(errors, level),
                "seconds": run.seconds,
                "chosen": run is best,
            }
        )
    errors = fit_error_model(truth - _clipped(best.backtest, nonnegative))
    chosen = next(row for row in rows if row["chosen"])
    if chosen["coverage"] < level / 100 - 0.15:
        notes.append(
            f"backtest coverage of the {level}% interval is only "
            f"{chosen['coverage']:.0%}: intervals may be too narrow"
        )
    return _build(
        best.final,
        errors,
        index,
        levels,
        nonnegative,
        model=best.name,
        scores=scores_frame(rows),
        notes=tuple(notes),
        rejected=tuple(rejected),
    )
