"""Synthetic series with known structure for the forecasting tests."""

import numpy as np
import pandas as pd

#: Highest pooled 80% coverage accepted on `synthetic` (calm series): the calibration only
#: widens the model's own band, conservatively (tests/forecasting/test_core.py says why).
CALM_COVERAGE_MAX = 0.88


def synthetic(seed: int, n: int = 300, *, shift: bool | None = None) -> pd.Series:
    """Daily series with trend, weekly season, AR(1) noise and (every other seed) a level shift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    level = rng.uniform(50, 200)
    week = rng.uniform(0.1, 0.4) * level * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6))
    noise = rng.normal(0, rng.uniform(0.05, 0.15) * level, n)
    ar = np.zeros(n)
    for i in range(1, n):
        ar[i] = 0.5 * ar[i - 1] + noise[i]
    y = level + rng.uniform(-0.05, 0.3) * t + week + ar
    if shift if shift is not None else seed % 2 == 0:
        k = int(rng.integers(n // 2, n - 60))
        y[k:] += rng.uniform(-0.3, 0.5) * level
    index = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.Series(np.clip(y, 0, None), index=index, name="spend")
