"""Whatever daily series comes in, `forecast` answers without an exception and without an
absurd point forecast or band: short, sparse, gappy, constant, spiky or negative series."""

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast

RNG = np.random.default_rng(42)


def daily(values) -> pd.Series:
    values = np.asarray(values, dtype=float)
    return pd.Series(values, index=pd.date_range("2025-01-01", periods=len(values), freq="D"))


def weekly(n: int, level: float = 100.0) -> np.ndarray:
    t = np.arange(n)
    return level * np.where(t % 7 >= 5, 0.5, 1.0) * RNG.lognormal(0, 0.1, n)


def spiked(n: int) -> np.ndarray:
    values = weekly(n)
    values[n - 12] *= 40
    values[n // 2] *= 100
    return values


def sparse(n: int) -> np.ndarray:
    return np.where(RNG.random(n) < 0.15, RNG.integers(1, 5, n), 0).astype(float)


def gappy(n: int) -> np.ndarray:
    values = weekly(n)
    values[RNG.choice(n, n // 5, replace=False)] = np.nan
    return values


CASES = {
    "one week": weekly(7),
    "ten days": weekly(10),
    "three weeks": weekly(21),
    "five weeks": weekly(35),
    "constant": np.full(120, 42.0),
    "constant with a spike": np.r_[np.full(100, 5.0), 500.0, np.full(19, 5.0)],
    "spikes of 40x and 100x": spiked(200),
    "mostly zeros": sparse(300),
    "a fifth missing": gappy(200),
    "temperatures below zero": 5 + 10 * np.sin(np.arange(400) / 58) + RNG.normal(0, 2, 400),
    "all negative": -weekly(150),
    "huge values": weekly(200, level=1e12),
    "tiny values": weekly(200, level=1e-6),
}


@pytest.mark.parametrize("name", CASES)
def test_any_daily_series_gets_a_sane_forecast(name):
    y = daily(CASES[name])
    fc = forecast(y, horizon=28, levels=(80, 95))
    observed = y.dropna().to_numpy()
    span = max(observed.max() - observed.min(), abs(observed).max(), 1e-12)
    for series in (fc.mean, fc.lower[80], fc.upper[80], fc.lower[95], fc.upper[95]):
        assert len(series) == 28 and np.isfinite(series.to_numpy()).all()
        assert series.max() <= observed.max() + 3 * span, name
        assert series.min() >= observed.min() - 3 * span, name
    assert (fc.lower[95] <= fc.lower[80]).all() and (fc.lower[80] <= fc.mean).all()
    assert (fc.mean <= fc.upper[80]).all() and (fc.upper[80] <= fc.upper[95]).all()
    assert isinstance(fc.model, str) and fc.model


def test_negative_series_are_not_clipped_at_zero():
    fc = forecast(daily(CASES["all negative"]), horizon=14)
    assert (fc.mean < 0).all() and (fc.upper[95] < 0).any()


def test_spend_is_still_clipped_at_zero():
    fc = forecast(daily(CASES["mostly zeros"]), horizon=14)
    assert (fc.lower[95] >= 0).all() and (fc.sample_paths(200).to_numpy() >= 0).all()
