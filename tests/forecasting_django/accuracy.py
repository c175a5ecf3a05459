"""Held-out evaluation helpers (pure: no Django, so spawned worker processes can import them)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from forecasting import forecast
from forecasting.runs.candidates import SPEND_CANDIDATES

H = 28  # held-out horizon


@dataclass(frozen=True)
class Window:
    series: str
    origin: str
    model: str
    relative_mae: float  # MAE of the chosen model / MAE of seasonal naive, on held-out days
    coverage_80: float  # share of held-out days inside the 80% interval


def evaluate(task: tuple[str, pd.Series, int]) -> Window:
    """Forecast ``y[:origin]`` as the stored forecasts do and score the next ``H`` days.

    Selection and interval calibration happen inside `forecast` on the truncated history:
    nothing from the held-out days is seen.
    """
    name, y, origin = task
    train, test = y.iloc[:origin], y.iloc[origin : origin + H].to_numpy()
    fc = forecast(train, horizon=H, levels=(80,), candidates=SPEND_CANDIDATES)
    snaive = np.tile(train.to_numpy()[-7:], H // 7)
    relative = np.mean(np.abs(test - fc.mean.to_numpy())) / np.mean(np.abs(test - snaive))
    inside = (test >= fc.lower[80].to_numpy()) & (test <= fc.upper[80].to_numpy())
    return Window(name, str(train.index[-1].date()), fc.model, relative, float(inside.mean()))


def summary(windows: list[Window]) -> tuple[float, float]:
    """Geometric mean of the relative MAE (= MASE relative to seasonal naive: the scale
    cancels) and the pooled 80% coverage (every window has ``H`` days)."""
    geo = float(np.exp(np.mean(np.log([w.relative_mae for w in windows]))))
    return geo, float(np.mean([w.coverage_80 for w in windows]))
