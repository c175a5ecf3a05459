"""Candidate models with a statsmodels-shaped API and cheap rolling-origin forecasts.

Every candidate is built as ``Model(y, *, season=..., estimate_until=...)`` and ``fit()``
returns a fitted object with

* ``forecast(steps)`` - point forecast after the end of ``y``;
* ``forecast_from(origin, steps)`` - point forecast made with data ``y[:origin]`` only.

Parameters of the state-space models (ETS, ARIMA) are estimated **once**, on ``y[:estimate_until]``
(the earliest backtest origin, so the backtest never sees its own future). The states are then
filtered through the whole series with those fixed parameters, and the forecast from any origin
is a dynamic prediction from the filtered state there. This is the "refit the state, not the
parameters" shortcut: it makes a backtest with many origins cost one fit plus one filter pass,
and the backtest evaluates exactly the procedure used for the final forecast.
Cheap models (seasonal naive, Theta, MSTL) are simply refit at each origin.
"""

from __future__ import annotations

import abc
import warnings

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.forecasting.theta import ThetaModel, ThetaModelResults
from statsmodels.tsa.seasonal import MSTL
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.tsatools import add_trend

ARIMA_ORDERS: tuple[tuple[int, int, int], ...] = ((0, 1, 1), (1, 1, 1))
#: Points used to estimate ARIMA parameters and to refit Theta: half a year is plenty for
#: short-memory models and keeps the cost per series bounded (see the benchmark).
RECENT = 182


def _tile(pattern: np.ndarray, steps: int) -> np.ndarray:
    reps = -(-steps // len(pattern))
    return np.tile(pattern, reps)[:steps]


class Candidate(abc.ABC):
    """Base class: holds the series and options; ``fit()`` never mutates it."""

    name = "candidate"
    #: minimum number of points in the estimation window
    min_points = 7
    #: the model needs every observation > 0 (multiplicative season) or >= 0 (log scale);
    #: `forecast` skips it otherwise
    positive_only = False
    nonnegative_only = False

    def __init__(self, y: pd.Series, *, season: int, estimate_until: int | None = None) -> None:
        self.y = y
        self.values = np.asarray(y, dtype=float)
        self.season = season
        self.estimate_until = len(y) if estimate_until is None else estimate_until

    @abc.abstractmethod
    def fit(self) -> Fitted:
        """Estimate the model on ``values[:estimate_until]``."""


class Fitted(abc.ABC):
    """Fitted candidate; subclasses implement `forecast_from`."""

    def __init__(self, model: Candidate) -> None:
        self.model = model
        self.name = model.name

    @abc.abstractmethod
    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        """Forecast ``steps`` values after the first ``origin`` observations."""

    def forecast(self, steps: int) -> np.ndarray:
        return self.forecast_from(len(self.model.values), steps)


# -- simple models -------------------------------------------------------------------------


class SeasonalNaive(Candidate):
    """Repeat the last season (the baseline every model must beat)."""

    name = "snaive"

    def fit(self) -> Fitted:
        return _SeasonalNaiveFit(self)


class _SeasonalNaiveFit(Fitted):
    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        season = self.model.season
        return _tile(self.model.values[origin - season : origin], steps)


class WindowMean(Candidate):
    """Flat forecast at the mean of the last season: the fallback for short series."""

    name = "mean_last_season"
    min_points = 1

    def fit(self) -> Fitted:
        return _WindowMeanFit(self)


class _WindowMeanFit(Fitted):
    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        window = self.model.values[max(0, origin - self.model.season) : origin]
        return np.full(steps, float(np.mean(window)))


# -- state-space models: estimate once, filter, predict dynamically -------------------------


class ETS(Candidate):
    """ETS(A,Ad,A): additive error, damped additive trend, additive season."""

    name = "ets(A,Ad,A)"

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return 3 * self.season + 4

    def _model(self, values: np.ndarray) -> ETSModel:
        return ETSModel(
            values,
            error="add",
            trend="add",
            damped_trend=True,
            seasonal="add",
            seasonal_periods=self.season,
            # Heuristic initial states (from the first seasons) instead of estimating one
            # parameter per seasonal state: the optimiser then has 5 parameters, not 12,
            # which makes the fit several times faster for little loss in accuracy.
            initialization_method="heuristic",
        )

    def fit(self) -> Fitted:
        est = self._model(self.values[: self.estimate_until]).fit(disp=False, maxiter=1000)
        if not est.mle_retvals.get("converged", True):
            raise RuntimeError("optimizer did not converge")
        smoothed = self._model(self.values).smooth(est.params)
        return _StateSpaceFit(self, smoothed, seasonal=None)


class ETSMultiplicative(ETS):
    """ETS(M,Ad,M): multiplicative error and season, damped additive trend (positive series).

    The weekly pattern is a factor of the level, so quiet weekends stay at the same share of a
    weekday as the series grows or shrinks.
    """

    name = "ets(M,Ad,M)"
    positive_only = True

    def _model(self, values: np.ndarray) -> ETSModel:
        return ETSModel(
            values,
            error="mul",
            trend="add",
            damped_trend=True,
            seasonal="mul",
            seasonal_periods=self.season,
            initialization_method="heuristic",
        )


class ARIMA(Candidate):
    """ARIMA(p,1,q) on the seasonally adjusted series, order chosen by AIC on a small grid.

    The seasonal profile (classical additive decomposition: mean deviation from a centred
    moving average per phase) is estimated on the estimation window, removed before the ARIMA
    fit and added back to the forecasts. This two-stage form of "regression on seasonal
    dummies with ARIMA errors" leaves the optimiser one or two parameters instead of
    ``season + 1``, which is what keeps the backtest of 1,000 series within budget.
    """

    name = "arima"

    def __init__(
        self,
        y: pd.Series,
        *,
        season: int,
        estimate_until: int | None = None,
        orders: tuple[tuple[int, int, int], ...] = ARIMA_ORDERS,
    ) -> None:
        super().__init__(y, season=season, estimate_until=estimate_until)
        self.orders = orders

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return 3 * self.season + 4

    def profile(self) -> np.ndarray:
        """Additive seasonal profile by phase ``position % season`` (zero mean)."""
        start = max(0, self.estimate_until - RECENT)
        window = pd.Series(self.values[start : self.estimate_until])
        trend = window.rolling(self.season, center=True).mean()
        detrended = (window - trend).to_numpy()
        phase = (np.arange(start, self.estimate_until)) % self.season
        ok = np.isfinite(detrended)
        sums = np.bincount(phase[ok], weights=detrended[ok], minlength=self.season)
        counts = np.maximum(np.bincount(phase[ok], minlength=self.season), 1)
        means = sums / counts
        return means - means.mean()

    def fit(self) -> Fitted:
        profile = self.profile()
        adjusted = self.values - profile[np.arange(len(self.values)) % self.season]
        window = adjusted[max(0, self.estimate_until - RECENT) : self.estimate_until]
        best = None
        for order in self.orders:
            # One order failing to converge must not discard the others, so warnings are
            # handled per order here rather than by the caller's guard.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                res = SARIMAX(window, order=order, concentrate_scale=True).fit(disp=False)
            diverged = any(issubclass(w.category, ConvergenceWarning) for w in caught)
            if diverged or not res.mle_retvals.get("converged", True):
                continue
            if best is None or res.aic < best[1].aic:
                best = (order, res)
        if best is None:
            raise RuntimeError("optimizer did not converge for any order")
        order, res = best
        filtered = SARIMAX(adjusted, order=order, concentrate_scale=True).filter(res.params)
        fitted = _StateSpaceFit(self, filtered, seasonal=profile)
        fitted.name = f"arima{order}".replace(" ", "")
        return fitted


class _StateSpaceFit(Fitted):
    def __init__(self, model: Candidate, results, seasonal: np.ndarray | None) -> None:
        super().__init__(model)
        self.results = results
        self.seasonal = seasonal

    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        if origin >= len(self.model.values):
            pred = np.asarray(self.results.forecast(steps), dtype=float)
        else:
            end = origin + steps - 1
            pred = np.asarray(self.results.predict(start=origin, end=end, dynamic=0), dtype=float)
        if self.seasonal is not None:
            phase = np.arange(origin, origin + steps) % self.model.season
            pred = pred + self.seasonal[phase]
        return pred


# -- refit-per-origin models ---------------------------------------------------------------


class Theta(Candidate):
    """Theta method (statsmodels ThetaModel) on the deseasonalised series.

    The season is removed multiplicatively when every value is positive (a weekend that is
    a share of the weekdays, as in traffic and spend), additively otherwise; the name says
    which: ``theta(mul)`` or ``theta``.
    """

    name = "theta"
    #: "auto" (multiplicative when every value is positive), "additive" or "multiplicative"
    method = "auto"

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return 2 * self.season + 2

    def fit(self) -> Fitted:
        return _ThetaFit(self)


class _ThetaFit(Fitted):
    def __init__(self, model: Candidate) -> None:
        super().__init__(model)
        # Decided on the whole series, so every origin uses the same method.
        self.method = model.method
        if self.method == "auto":
            self.method = "multiplicative" if model.values.min() > 0 else "additive"
        self.name = "theta(mul)" if self.method == "multiplicative" else "theta"

    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        values = self.model.values[max(0, origin - RECENT) : origin]
        res = _QuickTheta(
            values,
            period=self.model.season,
            deseasonalize=True,
            use_test=False,
            method=self.method,
        ).fit()
        return np.asarray(res.forecast(steps), dtype=float)


def _ses(alpha: float, y: np.ndarray) -> tuple[float, float]:
    """Simple exponential smoothing from the level ``y[0]``: (sum of squared one-step errors,
    last level). ``l_t = alpha * y_t + (1 - alpha) * l_{t-1}``, one recursion in C."""
    level = lfilter([alpha], [1.0, alpha - 1.0], y, zi=[(1.0 - alpha) * y[0]])[0]
    errors = y[1:] - level[:-1]
    return float(errors @ errors), float(level[-1])


#: Coarse grid searched before the bounded refinement, so a second local minimum of the
#: sum of squares (seen: alpha 0.05 against 0.9999) does not trap the estimate.
_ALPHA_GRID = np.linspace(0.02, 0.98, 25)
_ALPHA_BOUNDS = (1e-4, 0.9999)


def ses_alpha(y: np.ndarray) -> float:
    """Least-squares smoothing parameter of SES with a known initial level ``y[0]``.

    This is the estimate statsmodels' ``ExponentialSmoothing(y, initial_level=y[0],
    initialization_method="known")`` maximises for (the Gaussian likelihood with the scale
    concentrated out is the sum of squares), found by a grid and a bounded refinement around
    its best point, about 5x faster than the state-space optimiser and never at a worse
    local minimum than it.
    """
    sse = [_ses(a, y)[0] for a in _ALPHA_GRID]
    i = int(np.argmin(sse))
    lo = _ALPHA_GRID[i - 1] if i > 0 else _ALPHA_BOUNDS[0]
    hi = _ALPHA_GRID[i + 1] if i < len(_ALPHA_GRID) - 1 else _ALPHA_BOUNDS[1]
    best = minimize_scalar(
        lambda a: _ses(a, y)[0], bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
    )
    return float(best.x)


class _QuickTheta(ThetaModel):
    """statsmodels' ThetaModel with its two-step fit (OLS drift, SES level) done faster.

    ``ThetaModel.fit`` estimates the SES parameter with the state-space optimiser: about
    three quarters of the time of every forecast here, since Theta is refit at each of the
    ~40 backtest origins. The drift, the deseasonalising and the forecast formula are
    statsmodels' own; only the SES estimate is `ses_alpha`.
    """

    def fit(self, use_mle: bool = False, disp: bool = False) -> ThetaModelResults:
        if use_mle:
            return super().fit(use_mle=True, disp=disp)
        y, seasonal = self._deseasonalize_data()
        y = np.asarray(y, dtype=float)
        trend = add_trend(y, "ct", prepend=True)[:, :2]
        trend[:, 1] -= 1
        _, b0 = np.linalg.lstsq(trend, y, rcond=None)[0]
        alpha = ses_alpha(y)
        return ThetaModelResults(b0, alpha, None, _ses(alpha, y)[1], seasonal, False, self)


class AdditiveTheta(Theta):
    """Theta with an additive season always (e.g. on a log scale, where it is multiplicative)."""

    method = "additive"


class MSTLForecast(Candidate):
    """MSTL with daily and weekly seasons (hourly data); trend+remainder by damped Holt.

    The seasonal components are carried forward as their last cycle.
    """

    name = "mstl"

    @property
    def min_points(self) -> int:  # type: ignore[override]
        return 2 * 7 * self.season

    def fit(self) -> Fitted:
        return _MSTLFit(self)


class _MSTLFit(Fitted):
    def forecast_from(self, origin: int, steps: int) -> np.ndarray:
        season = self.model.season
        periods = (season, 7 * season)
        values = self.model.values[:origin]
        res = MSTL(values, periods=periods).fit()
        seasonal = np.asarray(res.seasonal).reshape(len(values), -1)
        future = np.zeros(steps)
        for col, period in enumerate(periods):
            last = seasonal[-period:, col]
            future += _tile(last, steps)
        adjusted = values - seasonal.sum(axis=1)
        holt = ETSModel(adjusted, error="add", trend="add", damped_trend=True).fit(
            disp=False, maxiter=200
        )
        return np.asarray(holt.forecast(steps), dtype=float) + future
