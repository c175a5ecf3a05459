import numpy as np
import pandas as pd
import pytest

from forecasting import ForecastError, forecast, period_bounds, project_period


@pytest.fixture(scope="module")
def flat():
    """$10/day since 1 Dec, actuals up to 10 Jan; the forecast is $10/day exactly."""
    y = pd.Series(10.0, index=pd.date_range("2024-12-01", "2025-01-10"))
    return y, forecast(y, horizon=60)


def test_period_bounds():
    assert period_bounds("2025-02-14", "month") == (
        pd.Timestamp("2025-02-01"),
        pd.Timestamp("2025-02-28"),
    )
    assert period_bounds("2025-05-02", "quarter") == (
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2025-06-30"),
    )
    assert period_bounds("2025-05-02", "year")[1] == pd.Timestamp("2025-12-31")
    with pytest.raises(ForecastError, match="period"):
        period_bounds("2025-05-02", "week")


def test_flat_series_month_total_and_crossing_date_by_hand(flat):
    y, fc = flat
    assert fc.mean.to_numpy() == pytest.approx(10.0, abs=1e-6)
    proj = project_period(y, fc, start="2025-01-01", end="2025-01-31", budget=255.0)
    assert proj.actual_to_date == pytest.approx(100.0)
    assert proj.forecast_rest == pytest.approx(210.0, abs=1e-4)
    assert proj.total == pytest.approx(310.0, abs=1e-4)
    assert proj.lower[80] == pytest.approx(310.0, abs=0.01)
    # 10 days of actuals = 100; 255 is reached after 26 days (260) -> 26 January.
    assert proj.crossing_date == pd.Timestamp("2025-01-26")
    assert proj.crossing_low == proj.crossing_high == pd.Timestamp("2025-01-26")
    assert proj.prob_over_budget == 1.0


def test_clear_cases_probability_near_zero_and_one(flat):
    y, fc = flat
    under = project_period(y, fc, start="2025-01-01", end="2025-01-31", budget=1000.0)
    assert under.prob_over_budget == 0.0 and under.crossing_date is None
    already = project_period(y, fc, start="2025-01-01", end="2025-01-31", budget=50.0)
    assert already.prob_over_budget == 1.0
    assert already.crossing_date == pd.Timestamp("2025-01-05")


def test_noisy_series_interval_and_consistency():
    rng = np.random.default_rng(3)
    index = pd.date_range("2024-06-01", "2025-01-15")
    y = pd.Series(np.clip(100 + rng.normal(0, 20, len(index)), 0, None), index=index)
    fc = forecast(y, horizon=30)
    budget = 100 * 31
    proj = project_period(y, fc, start="2025-01-01", end="2025-01-31", budget=budget)
    assert proj.lower[80] < proj.total < proj.upper[80]
    assert proj.total == pytest.approx(3100, rel=0.05)
    assert 0.05 < proj.prob_over_budget < 0.95
    if proj.crossing_date is not None:
        assert proj.crossing_date >= pd.Timestamp("2025-01-25")


def test_forecast_must_cover_the_period(flat):
    y, fc = flat
    with pytest.raises(ForecastError, match="fc: forecast covers"):
        project_period(y, fc, start="2025-01-01", end="2025-12-31", budget=1.0)
