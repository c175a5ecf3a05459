from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from forecasting import ForecastError, forecast_demand, price_demand

PRICES = {
    "big": {"input": 1e-5, "cached_input": 1e-6, "output": 4e-5, "tier": "frontier"},
    "small": {"input": 1e-7, "output": 4e-7, "tier": "small"},
}


@pytest.fixture(scope="module")
def usage():
    rng = np.random.default_rng(0)
    dates = pd.date_range("2024-01-01", periods=120)
    rows = []
    for model, scale in (("big", 1e6), ("small", 5e6)):
        for project in ("a", "b"):
            base = scale * (1 + 0.3 * np.sin(2 * np.pi * np.arange(120) / 7))
            noise = rng.normal(1, 0.1, 120)
            rows.append(
                pd.DataFrame(
                    {
                        "date": dates,
                        "provider": "p",
                        "model": model,
                        "project": project,
                        "input_tokens": base * noise,
                        "cached_input_tokens": 0.2 * base * noise,
                        "output_tokens": 0.25 * base * noise,
                        "requests": base * noise / 1000,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def demand(usage):
    return forecast_demand(usage, keys=["model", "project"], horizon=14, levels=(80,), n_origins=4)


def test_long_output_per_series_and_measure(demand):
    frame = demand.frame
    assert set(frame["measure"]) == {
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "requests",
    }
    assert len(frame) == 4 * 4 * 14
    assert {"model", "project", "date", "mean", "lower_80", "upper_80"} <= set(frame)
    assert (frame["lower_80"] <= frame["mean"]).all()


def test_spend_total_is_sum_of_parts_and_interval_narrower_than_summed_bounds(demand):
    spend = price_demand(demand, PRICES, n_paths=500)
    by_day = spend.by_series.groupby("date")["mean"].sum()
    assert np.allclose(by_day.to_numpy(), spend.total["mean"].to_numpy())
    summed_upper = spend.by_series.groupby("date")["upper_80"].sum().to_numpy()
    assert (spend.total["upper_80"].to_numpy() < summed_upper).all()
    summary = spend.summary()
    assert isinstance(summary["spend"].iloc[-1], Decimal)
    assert summary["spend"].iloc[-1] == sum(summary["spend"].iloc[:-1])


def test_pricing_by_hand(demand):
    spend = price_demand(demand, PRICES, n_paths=200)
    big_a = demand.frame.query("model == 'big' and project == 'a'").pivot(
        index="date", columns="measure", values="mean"
    )
    expected = (
        big_a["input_tokens"] * 1e-5
        + big_a["cached_input_tokens"] * (1e-6 - 1e-5)
        + big_a["output_tokens"] * 4e-5
    )
    got = spend.by_series.query("model == 'big' and project == 'a'")["mean"].to_numpy()
    assert got == pytest.approx(expected.to_numpy())


def test_missing_price_names_the_model(demand):
    with pytest.raises(ForecastError, match="no price for model 'small'"):
        price_demand(demand, {"big": PRICES["big"]})


def test_bad_frame_names_columns(usage):
    with pytest.raises(ForecastError, match="frame: missing columns"):
        forecast_demand(usage.drop(columns="project"), keys=["project"], horizon=7)
