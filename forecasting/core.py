"""Per-series automatic forecasting: candidates, rolling-origin selection, calibrated bands.

`forecast` cleans the series (`forecasting.prep`), backtests every candidate from several
rolling origins under a guard (`forecasting.backtest`), adds the median of the better
candidates and chooses a single model only when the backtest separates it from that median
(`forecasting.selection`), builds empirical intervals from the chosen forecast's backtest
errors (`forecasting.intervals`) and widens them by a conformal step over the whole procedure
rerun at earlier cuts (`forecasting.calibration`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from forecasting.backtest import Rejection, plan_origins, sanity_band, scores_frame
from forecasting.calibration import envelope, extend, procedure_scores, restrict
from forecasting.errors import ForecastError
from forecasting.intervals import ErrorModel
from forecasting.models import (
    ARIMA,
    ETS,
    AdditiveTheta,
    Candidate,
    ETSMultiplicative,
    MSTLForecast,
    SeasonalNaive,
    Theta,
    WindowMean,
)
from forecasting.prep import prepare
from forecasting.selection import Selected, run_all, select
from forecasting.transforms import robust_log_of

DEFAULT_HISTORY = {"D": 365, "h": 24 * 7 * 8}

RobustLogETS = robust_log_of(ETS)
RobustLogTheta = robust_log_of(AdditiveTheta)

#: Daily candidates: additive models for any series, multiplicative-season ones where the
#: series is positive, robust log ones where it is non-negative (spend, tokens, traffic).
DAILY_CANDIDATES: tuple[type[Candidate], ...] = (
    SeasonalNaive,
    ETS,
    ARIMA,
    Theta,
    ETSMultiplicative,
    RobustLogETS,
    RobustLogTheta,
)
HOURLY_CANDIDATES: tuple[type[Candidate], ...] = (SeasonalNaive, ETS, Theta, MSTLForecast)


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
        Name of the chosen model, e.g. ``"ets(A,Ad,A)"`` or ``"median(ets(A,Ad,A)+theta+...)"``
        (`forecasting.describe.describe_model` says it in plain words).
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
        """Simulate ``n`` future paths from the calibrated error distribution.

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
    limits: tuple[float, float] = (-np.inf, np.inf),
    **info,
) -> Forecast:
    clip = (lambda a: np.clip(a, 0.0, None)) if nonnegative else (lambda a: a)
    lower, upper = {}, {}
    for level in levels:
        # A band beyond the limits (3 history ranges past the extremes) says nothing a
        # reader can use, and an absurd bound would break totals on the pages.
        lo, hi = np.clip(errors.bounds(mean, level), *limits)
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


def forecast(
    y: pd.Series,
    *,
    horizon: int,
    levels: Sequence[float] = (80, 95),
    fill: str = "zero",
    nonnegative: bool | None = None,
    n_origins: int = 8,
    backtest_horizon: int | None = None,
    max_history: int | None = None,
    candidates: Sequence[type[Candidate]] | None = None,
    combine: bool = True,
    calibrate: bool = True,
) -> Forecast:
    """Forecast one series with the procedure that does best in a rolling-origin backtest.

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
    nonnegative : bool, optional
        Clip the forecast, its intervals and sample paths at 0 (money and tokens). Default:
        when no observation is negative.
    n_origins : int
        Backtest origins, one season apart (fewer are used on short series).
    backtest_horizon : int, optional
        Steps scored per origin; default ``min(horizon, 4 seasons)``.
    max_history : int, optional
        Most recent points used; default 365 days or 8 weeks of hours.
    candidates : sequence of Candidate classes, optional
        Candidate models; default `DAILY_CANDIDATES` or `HOURLY_CANDIDATES`.
    combine : bool
        Also score the median of the better candidates and prefer it unless the backtest
        separates a single candidate from it (`forecasting.selection`).
    calibrate : bool
        Widen the bands by the conformal step over the whole procedure
        (`forecasting.calibration`); never narrows them.

    Returns
    -------
    Forecast

    Raises
    ------
    ForecastError
        On invalid options or a series with fewer than 7 usable points.
    """
    _check_options(horizon, levels, n_origins)
    if nonnegative is not None and not isinstance(nonnegative, bool):
        raise ForecastError(f"nonnegative: must be True, False or None, got {nonnegative!r}")
    prep = prepare(y, fill=fill, max_history=None)
    history = max_history or DEFAULT_HISTORY[prep.freq]
    series = prep.y.iloc[-history:]
    values = series.to_numpy()
    if nonnegative is None:
        nonnegative = bool(values.min() >= 0)
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
    options = {
        "season": season,
        "n_origins": n_origins,
        "max_steps": backtest_horizon or 4 * season,
        "level": 80 if 80 in levels else levels[0],
        "candidates": candidates,
        "combine": combine,
        "nonnegative": nonnegative,
        "calibrate": calibrate,
        # The whole history (the models use the last ``history`` points of it): the year-ago
        # cut of daily series looks further back (`_year_ago_scores`).
        "whole": prep.y if prep.freq == "D" else None,
    }
    # Single-threaded BLAS: the models' matrices are tiny, and on a busy machine threaded
    # BLAS spins for cores it does not get (measured: 5x the CPU time per forecast).
    with threadpool_limits(limits=1, user_api="blas"):
        chosen = _procedure(series, horizon, options, notes, rejected)
    if chosen is None:
        return _fallback(values, season, horizon, index, levels, nonnegative, notes, rejected)
    return _build(
        chosen.final,
        chosen.errors,
        index,
        levels,
        nonnegative,
        limits=sanity_band(values, k=3.0),
        model=chosen.model,
        scores=scores_frame(chosen.rows),
        notes=tuple(notes),
        rejected=tuple(rejected),
    )


def _procedure(
    series: pd.Series, horizon: int, options: dict, notes: list, rejected: list
) -> Selected | None:
    """Backtest, combine, select and calibrate on ``series``; ``None`` when too short."""
    season = options["season"]
    plan = _plan(len(series), horizon, options)
    if plan is None:
        return None
    runs = run_all(options["candidates"], series, season, plan, horizon, notes, rejected)
    if not runs:
        return None
    values = series.to_numpy()
    chosen = _select(runs, values, plan, options)
    if not options["calibrate"]:
        return chosen
    return _calibrated(series, plan, options, chosen, notes)


def _calibrated(series: pd.Series, plan, options: dict, chosen: Selected, notes: list) -> Selected:
    """The conformal step (`forecasting.calibration`): the procedure at earlier cuts."""
    season, values = options["season"], series.to_numpy()
    # Earlier origins, but never so early that the models lose half their estimation data.
    # Cuts four seasons apart (a multiple of the season, so the cuts' origins coincide).
    spacing = season * -(-max(plan.steps, 4 * season) // season)
    extended, cuts = extend(
        plan, floor=max(4 * season + 4, plan.estimate_until // 2), spacing=spacing
    )
    runs = []
    if cuts:
        runs = run_all(options["candidates"], series, season, extended, plan.steps, [], [])
    scores = []
    now = chosen.errors.scale(plan.steps)
    floor = np.maximum(0.1 * now, 1e-6 * np.mean(np.abs(values)))
    for cut, sub in cuts if runs else []:
        earlier = _select(
            restrict(runs, extended, sub, cut), values[:cut], sub, options, report=False
        )
        scores.append(_scores(earlier, values[cut : cut + plan.steps], options, now, floor))
    if options["whole"] is not None:
        year = _year_ago_scores(series, plan, options, floor)
        if year is not None:
            scores.append(year)
    if not scores:
        notes.append("too short to calibrate the bands on earlier cuts: the model's own band")
        return chosen
    return replace(chosen, errors=envelope(chosen.errors, np.concatenate(scores)))


def _plan(n: int, horizon: int, options: dict):
    """The backtest plan of the procedure on ``n`` points (`plan_origins`), or ``None``."""
    season = options["season"]
    return plan_origins(
        n,
        season=season,
        horizon=horizon,
        n_origins=options["n_origins"],
        max_steps=options["max_steps"],
        min_train=season + 1,
    )


def _select(runs, values, plan, options, report: bool = True) -> Selected:
    return select(
        runs,
        values,
        plan,
        options["season"],
        options["level"],
        combine=options["combine"],
        nonnegative=options["nonnegative"],
        report=report,
    )


#: The year-ago cut: 52 weeks back, so the weekdays line up.
YEAR = 364


def _year_ago_scores(
    series: pd.Series, plan, options: dict, floor: np.ndarray
) -> np.ndarray | None:
    """The procedure's normalised errors on the same weeks a year earlier
    (`forecasting.calibration`), or ``None`` without the history for it.

    The run sees what the main one sees, a year earlier: as many points, up to the cut. It
    needs at least half the main window before the cut, and the cut must lie in the data.
    """
    full = options["whole"]
    cut = len(full) - YEAR
    if cut < len(series) // 2:
        return None
    past = full.iloc[:cut].iloc[-len(series) :]
    sub = _plan(len(past), plan.steps, options)
    if sub is None or sub.steps != plan.steps:
        return None
    runs = run_all(options["candidates"], past, options["season"], sub, plan.steps, [], [])
    if not runs:
        return None
    earlier = _select(runs, past.to_numpy(), sub, options, report=False)
    # Against its own scale only: a year may change the level several-fold.
    return _scores(earlier, full.to_numpy()[cut : cut + plan.steps], options, None, floor)


def _scores(earlier: Selected, actual: np.ndarray, options: dict, now, floor) -> np.ndarray:
    """An earlier run's normalised errors on what came after its cut (`procedure_scores`)."""
    mean = np.clip(earlier.final, 0.0, None) if options["nonnegative"] else earlier.final
    return procedure_scores(actual, mean, earlier.errors, now, floor)
