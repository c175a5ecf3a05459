"""The core's candidates for series whose weekly pattern scales with the level, and spikes."""

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast
from forecasting.core import DAILY_CANDIDATES, RobustLogETS, RobustLogTheta
from forecasting.models import ETSMultiplicative, Theta
from forecasting.transforms import robust_log


def growing_with_quiet_weekends(seed: int = 0, n: int = 280) -> pd.Series:
    """Traffic-like: 0.5% growth a day, weekends at 40% of weekdays, 5% noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = np.where(t % 7 >= 5, 0.4, 1.0)
    values = 100 * np.exp(0.005 * t) * weekly * rng.lognormal(0, 0.05, n)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=n, freq="D"))


def test_the_default_daily_set_has_multiplicative_and_log_scale_candidates():
    assert {Theta, ETSMultiplicative, RobustLogETS, RobustLogTheta} <= set(DAILY_CANDIDATES)


def test_theta_deseasonalises_multiplicatively_when_every_value_is_positive():
    y = growing_with_quiet_weekends()
    fitted = Theta(y, season=7).fit()
    assert fitted.name == "theta(mul)"
    shifted = y.copy()
    shifted.iloc[10] = 0.0
    assert Theta(shifted, season=7).fit().name == "theta"


@pytest.mark.parametrize("candidate", [Theta, ETSMultiplicative, RobustLogETS, RobustLogTheta])
def test_multiplicative_candidates_keep_weekends_at_their_share_of_weekdays(candidate):
    y = growing_with_quiet_weekends()
    fitted = candidate(y, season=7).fit()
    share = _weekend_share(pd.Series(fitted.forecast(28)), y)
    assert share == pytest.approx(0.4, abs=0.06)


def _weekend_share(future: pd.Series, y: pd.Series) -> float:
    phase = (np.arange(len(y), len(y) + len(future))) % 7
    return float(future[phase >= 5].mean() / future[phase < 5].mean())


def test_robust_log_replaces_an_isolated_spike_by_the_same_weekday_median():
    y = growing_with_quiet_weekends().to_numpy()
    spiked = y.copy()
    spiked[200] *= 40
    logs, offset = robust_log(spiked, 7)
    clean, _ = robust_log(y, 7)
    assert np.exp(logs[200]) - offset < 2 * y[200]
    assert abs(logs[150] - clean[150]) < 1e-9  # points before the spike are untouched


def test_a_forty_fold_spike_does_not_swing_the_forecast():
    y = growing_with_quiet_weekends(seed=3)
    spiked = y.copy()
    spiked.iloc[-10] *= 40
    calm = forecast(y, horizon=28).mean
    fc = forecast(spiked, horizon=28).mean
    assert (fc / calm).between(0.7, 1.5).all(), (fc / calm).describe()


def test_multiplicative_candidates_are_skipped_with_a_note_when_a_day_is_zero():
    y = growing_with_quiet_weekends()
    y.iloc[-20] = 0.0
    fc = forecast(y, horizon=14)
    assert any("ets(M,Ad,M): skipped, needs every value > 0" in n for n in fc.notes)
    assert "theta" in set(fc.scores["model"])


@pytest.mark.parametrize("method", ["additive", "multiplicative"])
def test_quick_theta_fit_forecasts_as_statsmodels_theta_does(method):
    # Theta is refit at every backtest origin; only its SES estimate is our own (a grid and a
    # bounded refinement instead of the state-space optimiser). On ordinary series both find
    # the same smoothing parameter, so the forecasts agree.
    from statsmodels.tsa.forecasting.theta import ThetaModel

    from forecasting.models import _QuickTheta

    for seed in range(5):
        values = growing_with_quiet_weekends(seed, 182).to_numpy()
        options = {"period": 7, "deseasonalize": True, "use_test": False, "method": method}
        theirs = ThetaModel(values, **options).fit()
        ours = _QuickTheta(values, **options).fit()
        assert ours.params["alpha"] == pytest.approx(theirs.params["alpha"], abs=1e-3)
        np.testing.assert_allclose(ours.forecast(28), theirs.forecast(28), rtol=1e-4)


def test_ses_alpha_finds_the_least_squares_minimum_not_a_local_one():
    from forecasting.models import _ses, ses_alpha

    rng = np.random.default_rng(3)
    # A random walk with noise: the sum of squares is flat and bumpy in alpha.
    y = np.cumsum(rng.normal(0, 1, 182)) + rng.normal(0, 2, 182) + 50
    alpha = ses_alpha(y)
    grid = np.linspace(1e-4, 0.9999, 2001)
    assert _ses(alpha, y)[0] <= min(_ses(a, y)[0] for a in grid) + 1e-9
