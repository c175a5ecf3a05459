import numpy as np
import pandas as pd
import pytest

from forecasting import Forecast, ForecastError, forecast
from forecasting import models as candidate_models
from tests.forecasting.synthetic import CALM_COVERAGE_MAX, synthetic

H = 28


def test_beats_seasonal_naive_and_intervals_are_calibrated_on_held_out_data():
    # Held out: each evaluation origin's forecast only sees data before it; selection and
    # interval calibration happen inside forecast() on that truncated history.
    ratios, hits = [], []
    for seed in range(12):
        y = synthetic(seed)
        for back in (H, 2 * H, 3 * H):
            origin = len(y) - back
            train, test = y.iloc[:origin], y.iloc[origin : origin + H].to_numpy()
            fc = forecast(train, horizon=H, levels=(80,))
            snaive = np.tile(train.to_numpy()[-7:], 4)
            ratios.append(
                np.mean(np.abs(test - fc.mean.to_numpy())) / np.mean(np.abs(test - snaive))
            )
            inside = (test >= fc.lower[80].to_numpy()) & (test <= fc.upper[80].to_numpy())
            hits.append(inside.mean())
    geo_mean = float(np.exp(np.mean(np.log(ratios))))
    coverage = float(np.mean(hits))
    assert geo_mean <= 0.90, geo_mean
    # Calm series (stationary AR(1) noise): the model's own band already holds here (0.78),
    # and the calibration may only widen it, by the procedure's misses at earlier cuts
    # measured against the smaller of their scale and today's (`forecasting.calibration`).
    # That is deliberately conservative: it is what makes the bands hold on real series
    # (peer benchmark: 0.78 / 0.93), and on these it over-covers (0.87 measured).
    assert 0.75 <= coverage <= CALM_COVERAGE_MAX, coverage


def test_result_shape_and_index_continues_input():
    y = synthetic(3, 200)
    fc = forecast(y, horizon=90, levels=(80, 95))
    assert isinstance(fc, Forecast)
    assert len(fc.mean) == 90
    assert fc.mean.index[0] == y.index[-1] + pd.Timedelta(days=1)
    assert (fc.lower[95] <= fc.lower[80]).all() and (fc.lower[80] <= fc.mean).all()
    assert (fc.mean <= fc.upper[80]).all() and (fc.upper[80] <= fc.upper[95]).all()
    assert fc.scores["chosen"].sum() == 1
    assert fc.model == fc.scores.loc[fc.scores["chosen"], "model"].item()
    assert "snaive" in set(fc.scores["model"])
    assert {"theta", "theta(mul)"} & set(fc.scores["model"])
    assert fc.scores["mase"].notna().all()


def test_fit_does_not_mutate_model():
    y = synthetic(5, 120)
    model = candidate_models.ETS(y, season=7, estimate_until=80)
    before = model.values.copy()
    model.fit()
    assert model.estimate_until == 80 and np.array_equal(model.values, before)


def test_missing_days_are_filled_with_zero_and_noted():
    y = synthetic(1, 150).drop(pd.date_range("2024-02-10", periods=5))
    fc = forecast(y, horizon=14)
    assert any("filled 5 missing" in note for note in fc.notes)
    assert len(fc.mean) == 14 and np.isfinite(fc.mean).all()


def test_all_zeros_forecasts_zero():
    y = pd.Series(0.0, index=pd.date_range("2024-01-01", periods=60))
    fc = forecast(y, horizon=10)
    assert fc.model == "zero" and (fc.mean == 0).all() and (fc.upper[95] == 0).all()


def test_two_weeks_of_history_falls_back_with_note():
    y = pd.Series(np.arange(14, dtype=float) + 10, index=pd.date_range("2024-01-01", periods=14))
    fc = forecast(y, horizon=30)
    assert fc.model == "mean_last_season"
    assert fc.mean.iloc[0] == pytest.approx(np.mean(np.arange(7, 14) + 10))
    assert any("too short" in note for note in fc.notes)
    assert (fc.upper[80] > fc.mean).all()


def test_model_started_last_month_ignores_leading_zeros_and_nan():
    index = pd.date_range("2024-01-01", periods=200)
    values = np.r_[np.full(100, np.nan), np.zeros(70), np.full(30, 50.0)]
    fc = forecast(pd.Series(values, index=index), horizon=14)
    assert any("ignored 170 leading" in note for note in fc.notes)
    assert fc.mean.to_numpy() == pytest.approx(50.0, rel=0.05)


def test_spike_does_not_blow_up_forecast():
    y = synthetic(7, 200, shift=False)
    y.iloc[150] *= 20
    fc = forecast(y, horizon=28)
    assert fc.mean.max() < 3 * y.iloc[-56:].max()


def test_level_shift_is_followed():
    rng = np.random.default_rng(11)
    index = pd.date_range("2024-01-01", periods=200)
    values = np.r_[np.full(140, 100.0), np.full(60, 300.0)] + rng.normal(0, 5, 200)
    fc = forecast(pd.Series(values, index=index), horizon=28)
    assert fc.mean.mean() == pytest.approx(300, rel=0.1)


def test_never_negative():
    index = pd.date_range("2024-01-01", periods=120)
    values = np.maximum(0, np.linspace(50, 1, 120) + np.random.default_rng(2).normal(0, 8, 120))
    fc = forecast(pd.Series(values, index=index), horizon=60)
    assert (fc.mean >= 0).all() and all((fc.lower[lv] >= 0).all() for lv in fc.lower)
    assert (fc.sample_paths(200).to_numpy() >= 0).all()


def test_too_short_is_a_clear_error():
    y = pd.Series([1.0, 2, 3, 4, 5], index=pd.date_range("2024-01-01", periods=5))
    with pytest.raises(ForecastError, match="y: needs at least 7"):
        forecast(y, horizon=7)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"horizon": 0}, "horizon"), ({"horizon": 5, "levels": (120,)}, "levels")],
)
def test_bad_options_name_the_parameter(kwargs, match):
    with pytest.raises(ForecastError, match=match):
        forecast(synthetic(1, 60), **kwargs)


def test_bad_input_names_y():
    with pytest.raises(ForecastError, match="y: index must be a DatetimeIndex"):
        forecast(pd.Series([1.0] * 20), horizon=3)


def test_diverging_candidate_is_rejected_with_reason(monkeypatch):
    def exploding(self, origin, steps):
        return np.full(steps, 1e12)

    monkeypatch.setattr(candidate_models._ThetaFit, "forecast_from", exploding)
    fc = forecast(synthetic(4, 150), horizon=14)
    assert not any("theta" in name for name in fc.scores["model"])
    reasons = {r.model: r.reason for r in fc.rejected}
    assert "sanity band" in reasons["theta(mul)"]
    assert fc.mean.max() < 1e6


def test_candidate_returning_nan_or_raising_is_rejected(monkeypatch):
    def broken(self):
        raise np.linalg.LinAlgError("singular matrix")

    monkeypatch.setattr(candidate_models.ETS, "fit", broken)
    monkeypatch.setattr(
        candidate_models._ThetaFit, "forecast_from", lambda self, o, s: np.full(s, np.nan)
    )
    fc = forecast(synthetic(6, 150), horizon=14)
    reasons = {r.model: r.reason for r in fc.rejected}
    assert "LinAlgError" in reasons["ets(A,Ad,A)"]
    assert "not finite" in reasons["theta(mul)"]
    assert np.isfinite(fc.mean).all()


def test_hourly_series_uses_daily_and_weekly_seasons():
    index = pd.date_range("2024-01-01", periods=24 * 7 * 4, freq="h")
    t = np.arange(len(index))
    values = 100 + 30 * np.sin(2 * np.pi * t / 24) + 20 * (index.day_of_week >= 5)
    values = values + np.random.default_rng(0).normal(0, 5, len(t))
    fc = forecast(pd.Series(values, index=index), horizon=48, n_origins=3)
    assert len(fc.mean) == 48 and fc.mean.index.freq == "h"
    assert "mstl" in set(fc.scores["model"]) | {r.model for r in fc.rejected}
