"""Bands calibrated over the whole procedure: never narrower than the model's own, and they
hold about as often as they say on held-out days of seeded spend-like series."""

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast
from forecasting.backtest import Plan
from forecasting.calibration import CUTS, envelope, extend
from forecasting.intervals import fit_error_model

H = 28


def spend_like(seed: int, n: int = 400) -> pd.Series:
    """Growth, quiet weekends, lognormal noise, now and then a spike or a level shift."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = np.where((t + seed) % 7 >= 5, rng.uniform(0.3, 0.9), 1.0)
    values = rng.lognormal(4, 1) * np.exp(rng.uniform(-0.3, 0.8) * t / n) * weekly
    values *= rng.lognormal(0, rng.uniform(0.05, 0.3), n)
    if seed % 3 == 0:
        values[rng.integers(n // 2, n - 60) :] *= rng.uniform(0.6, 1.6)
    if seed % 4 == 1:
        values[rng.integers(0, n)] *= 20
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def test_the_envelope_is_never_narrower_than_the_models_own_band():
    rng = np.random.default_rng(0)
    own = fit_error_model(rng.normal(0, 1, (8, 28)))
    for cut_spread in (0.2, 1.0, 3.0):
        widened = envelope(own, rng.normal(0.5, cut_spread, 56))
        for level in (50, 80, 95):
            lo, hi = own.quantiles(level)
            wlo, whi = widened.quantiles(level)
            assert wlo <= lo + 1e-9 and whi >= hi - 1e-9
    lo, hi = own.quantiles(80)
    wlo, whi = envelope(own, rng.normal(0, 3, 56)).quantiles(80)
    assert whi - wlo > 1.5 * (hi - lo)  # misses larger than the band said widen it


def test_earlier_cuts_reuse_the_main_origins_shifted_back_by_the_horizon():
    plan = Plan(origins=tuple(range(200, 250, 7)), steps=28)
    extended, cuts = extend(plan, floor=100)
    # The first cut is the last main origin; then every 28 days, until fewer than 3 origins
    # would stay at or after the floor.
    assert [cut for cut, _ in cuts] == [249, 221, 193, 165][:CUTS]  # a 5th would keep 2
    assert cuts[0][1].origins == tuple(o - 28 for o in plan.origins)
    assert min(extended.origins) >= 100
    for cut, sub in cuts:
        assert {cut, *sub.origins} <= set(extended.origins)
        assert max(sub.origins) + sub.steps <= cut  # a cut's backtest never sees past the cut
    assert len(extended.origins) < sum(len(sub.origins) + 1 for _, sub in cuts)


def test_a_short_horizon_keeps_its_cuts_four_weeks_apart():
    # A 14-day forecast is backtested over 14 days, but its cuts reach back as far as a
    # 28-day forecast's: spells of months, not of weeks (on the real series of the peer
    # benchmark at horizon 14, 80% bands covered 0.71 with cuts 14 days apart, 0.73 with 28).
    plan = Plan(origins=tuple(range(200, 250, 7)), steps=14)
    extended, cuts = extend(plan, floor=50, spacing=28)
    assert [cut for cut, _ in cuts] == [263 - 28 * k for k in range(1, CUTS + 1)]
    for k, (cut, sub) in enumerate(cuts, start=1):
        assert sub.origins == tuple(o - 28 * k for o in plan.origins)
        assert max(sub.origins) + sub.steps == cut  # never sees past its cut
        assert {cut, *sub.origins} <= set(extended.origins)
    # Spacing below the backtest horizon would overlap the cuts' windows: it is raised.
    assert extend(plan, floor=50, spacing=7)[1] == extend(plan, floor=50)[1]


def test_calibrated_bands_hold_about_as_often_as_they_say_on_held_out_days():
    hits = {80: [], 95: []}
    for seed in range(10):
        y = spend_like(seed)
        for back in (H, 2 * H):
            train, test = y.iloc[: len(y) - back], y.iloc[len(y) - back :].iloc[:H].to_numpy()
            fc = forecast(train, horizon=H)
            for level in hits:
                inside = (test >= fc.lower[level].to_numpy()) & (test <= fc.upper[level].to_numpy())
                hits[level].append(inside.mean())
    assert 0.72 <= np.mean(hits[80]) <= 0.90, np.mean(hits[80])
    assert 0.88 <= np.mean(hits[95]) <= 0.99, np.mean(hits[95])


def test_sample_paths_come_from_the_calibrated_distribution():
    fc = forecast(spend_like(2), horizon=H)
    paths = fc.sample_paths(4000, seed=1).to_numpy()
    inside = (paths >= fc.lower[80].to_numpy()) & (paths <= fc.upper[80].to_numpy())
    assert inside.mean() == pytest.approx(0.80, abs=0.04)


def test_a_miss_in_the_same_weeks_last_year_widens_this_years_band():
    # Two years of daily spend with a year-end close: the last two weeks of December at a
    # third of the level. Forecast from December 1st: the five recent cuts never saw a close;
    # the year-ago cut saw the procedure miss last year's (11 of its 28 days), so the 95% band
    # reaches down to hold a close again. The scores are pooled over the 28 steps, so the
    # whole band widens, not only the close's days; 11 days of 168 scores stay outside the
    # 80% band's quantiles, which widens a little.
    rng = np.random.default_rng(1)
    index = pd.date_range("2024-12-01", "2026-11-30", freq="D")
    values = 100 * rng.lognormal(0, 0.05, len(index))
    close = (index.month == 12) & (index.day >= 18)
    values[close] /= 3
    y = pd.Series(values, index=index)
    with_last_year = forecast(y, horizon=28)
    without = forecast(y.iloc[-365:], horizon=28)  # no history a year back
    assert (with_last_year.mean == without.mean).all()  # the point forecast is the same
    this_close = slice(17, 28)  # December 18-28
    assert (without.lower[95].iloc[this_close] > 80).all()  # a close at ~33 far outside
    assert (with_last_year.lower[95].iloc[this_close] < values[close].max()).all()
    assert (with_last_year.lower[80] < without.lower[80]).all()


def test_last_years_misses_count_at_last_years_scale_after_spend_fell():
    # Spend cut to a fifth ten months ago (traffic moved to small models). Last year's misses,
    # in dollars, were five times today's: measured against today's scale they would double
    # the band. The year-ago cut is measured against its own scale.
    rng = np.random.default_rng(2)
    index = pd.date_range("2024-12-01", "2026-11-30", freq="D")
    level = np.where(np.arange(len(index)) < len(index) - 300, 1000.0, 200.0)
    weekly = np.where(index.day_of_week >= 5, 0.5, 1.0)
    y = pd.Series(level * weekly * rng.lognormal(0, 0.15, len(index)), index=index)
    with_last_year = forecast(y, horizon=28)
    without = forecast(y.iloc[-365:], horizon=28)
    for level_ in (80, 95):
        wide = (with_last_year.upper[level_] - with_last_year.lower[level_]).mean()
        narrow = (without.upper[level_] - without.lower[level_]).mean()
        assert wide < 1.2 * narrow, (level_, wide, narrow)
