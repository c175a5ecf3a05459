"""The median of the better candidates is chosen unless the backtest separates one of them."""

import numpy as np
import pandas as pd

from forecasting import describe_model, forecast
from forecasting.backtest import Plan, Run
from forecasting.selection import median_combination, select

SEASON = 7


def _series_and_plan(n: int = 140, steps: int = 14):
    rng = np.random.default_rng(1)
    values = 100 + rng.normal(0, 10, n)
    origins = tuple(n - steps - 7 * j for j in range(7, -1, -1))
    return values, Plan(origins=origins, steps=steps)


def _run(name: str, values: np.ndarray, plan: Plan, miss: float) -> Run:
    """A fake candidate whose backtest misses the truth by ``miss`` at every step."""
    truth = np.vstack([values[o : o + plan.steps] for o in plan.origins])
    return Run(name=name, backtest=truth + miss, final=np.full(30, 100.0 + miss), seconds=0.0)


def test_the_median_combines_the_better_half_and_leaves_out_seasonal_naive():
    values, plan = _series_and_plan()
    runs = [
        _run(name, values, plan, miss)
        for name, miss in [
            ("snaive", 1.0),
            ("a", 2.0),
            ("b", 3.0),
            ("c", 4.0),
            ("d", 30.0),
            ("e", 40.0),
        ]
    ]
    per_origin = {r.name: np.full(8, abs(r.final[0] - 100)) for r in runs}
    combo = median_combination(runs, per_origin)
    assert combo.name == "median(a+b+c)"
    assert np.allclose(combo.final, 103.0)


def test_close_candidates_give_the_median():
    values, plan = _series_and_plan()
    runs = [
        _run(n, values, plan, m)
        for n, m in [("snaive", 9.0), ("a", 2.0), ("b", 2.05), ("c", -2.1), ("d", 2.2)]
    ]
    chosen = select(runs, values, plan, SEASON, 80, combine=True, nonnegative=True)
    assert chosen.model.startswith("median(")
    assert sum(row["chosen"] for row in chosen.rows) == 1


def test_a_candidate_better_at_every_origin_by_a_clear_margin_is_chosen_alone():
    values, plan = _series_and_plan()
    runs = [
        _run(n, values, plan, m)
        for n, m in [("snaive", 9.0), ("a", 0.5), ("b", 5.0), ("c", 6.0), ("d", 7.0)]
    ]
    chosen = select(runs, values, plan, SEASON, 80, combine=True, nonnegative=True)
    assert chosen.model == "a"


def test_without_combination_the_lowest_mase_wins():
    values, plan = _series_and_plan()
    runs = [
        _run(n, values, plan, m) for n, m in [("snaive", 9.0), ("a", 2.0), ("b", 2.05), ("c", 2.1)]
    ]
    chosen = select(runs, values, plan, SEASON, 80, combine=False, nonnegative=True)
    assert chosen.model == "a"


def test_a_forecast_names_its_method_in_plain_words():
    index = pd.date_range("2024-01-01", periods=200, freq="D")
    values = 100 + 20 * (index.day_of_week < 5) + np.random.default_rng(4).normal(0, 5, 200)
    fc = forecast(pd.Series(values, index=index), horizon=14)
    words = describe_model(fc.model)
    assert words and "(" not in words.split(",")[0]
    assert describe_model("median(ets(A,Ad,A)+rlog-theta+theta(mul)+arima(1,1,1))") == (
        "median of 4 methods"
    )
    assert describe_model("ets(A,Ad,A)") == "weekly pattern, damped trend"
    assert describe_model("rlog-ets(A,Ad,A)").endswith("growth in percent, spikes ignored")
    assert describe_model("combo(ets(A,Ad,A)+theta)") == "average of 2 methods"
