"""Rolling-origin backtests and the guard around every candidate fit.

A candidate is *rejected* (and the reason kept) when its fit raises, its optimiser does not
converge, or any of its forecasts (backtest or final) is non-finite or leaves the sanity band
``[min - k * range, max + k * range]`` of the history; a seasonal naive forecast never leaves
``[min, max]``, so anything far outside is a diverging fit, not a forecast.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from forecasting.models import Candidate, Fitted

BAND_K = 2.0


@dataclass(frozen=True)
class Plan:
    """Backtest origins (positions: forecast with ``y[:origin]``) and the backtest horizon."""

    origins: tuple[int, ...]
    steps: int

    @property
    def estimate_until(self) -> int:
        return min(self.origins)


@dataclass(frozen=True)
class Run:
    """A candidate that passed the guard: backtest forecasts, final forecast and cost."""

    name: str
    backtest: np.ndarray
    final: np.ndarray
    seconds: float


@dataclass(frozen=True)
class Rejection:
    """A candidate that was rejected, and why."""

    model: str
    reason: str


def plan_origins(
    n: int, *, season: int, horizon: int, n_origins: int, max_steps: int, min_train: int
) -> Plan | None:
    """Choose origins every ``season`` points ending ``steps`` before the end of the series.

    Fewer origins (at least 3) and then a shorter backtest horizon (at least one season) are
    used when the series is short; ``None`` means it is too short to backtest at all.
    """
    steps = min(horizon, max_steps)
    for k in range(n_origins, 2, -1):
        if n - steps - (k - 1) * season >= min_train:
            break
    else:
        k = 3
        steps = min(steps, n - 2 * season - min_train)
        if steps < min(season, horizon):
            return None
    origins = tuple(n - steps - j * season for j in range(k - 1, -1, -1))
    return Plan(origins=origins, steps=steps)


def sanity_band(values: np.ndarray, k: float = BAND_K) -> tuple[float, float]:
    """Band outside which a forecast is considered diverged."""
    lo, hi = float(np.min(values)), float(np.max(values))
    span = max(hi - lo, 0.1 * abs(hi), 1e-9)
    return lo - k * span, hi + k * span


def _check(name: str, values: np.ndarray, band: tuple[float, float], what: str) -> None:
    if not np.all(np.isfinite(values)):
        raise FloatingPointError(f"{what} forecast is not finite")
    if values.min() < band[0] or values.max() > band[1]:
        raise FloatingPointError(
            f"{what} forecast [{values.min():.4g}, {values.max():.4g}] is outside the sanity "
            f"band [{band[0]:.4g}, {band[1]:.4g}]"
        )


def run_candidate(
    model: Candidate, plan: Plan, horizon: int, *, band: tuple[float, float]
) -> Run | Rejection:
    """Fit ``model`` under the guard and produce backtest and final forecasts."""
    start = time.perf_counter()
    name = model.name
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted: Fitted = model.fit()
            name = fitted.name
            backtest = np.vstack([fitted.forecast_from(o, plan.steps) for o in plan.origins])
            final = fitted.forecast(horizon)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            raise RuntimeError("optimizer did not converge (ConvergenceWarning)")
        _check(name, backtest, band, "backtest")
        _check(name, final, band, "final")
    except Exception as exc:  # a candidate may fail in any way; the guard must hold
        return Rejection(model=name, reason=f"{type(exc).__name__}: {exc}")
    return Run(name=name, backtest=backtest, final=final, seconds=time.perf_counter() - start)


def mase_scale(values: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast (falls back to naive, then to the level)."""
    for lag in (season, 1):
        if len(values) > lag:
            mae = float(np.mean(np.abs(values[lag:] - values[:-lag])))
            if mae > 0:
                return mae
    level = float(np.mean(np.abs(values)))
    return level if level > 0 else 1.0


def actuals(values: np.ndarray, plan: Plan) -> np.ndarray:
    """Observed values aligned with the backtest forecasts, shape ``(origins, steps)``."""
    return np.vstack([values[o : o + plan.steps] for o in plan.origins])


def mase(values: np.ndarray, plan: Plan, backtest: np.ndarray, season: int) -> float:
    """Mean over origins of MAE scaled by the in-sample seasonal naive MAE at that origin."""
    truth = actuals(values, plan)
    scales = np.array([mase_scale(values[:o], season) for o in plan.origins])
    return float(np.mean(np.mean(np.abs(truth - backtest), axis=1) / scales))


def scores_frame(rows: list[dict]) -> pd.DataFrame:
    """Backtest scores as a DataFrame sorted by MASE."""
    columns = ["model", "mase", "relative_mase", "coverage", "seconds", "chosen"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("mase", kind="stable").reset_index(drop=True)
