"""Spendapp forecasting core: pandas in, pandas out, no Django.

>>> from forecasting import forecast
>>> fc = forecast(y, horizon=90, levels=(80, 95))  # doctest: +SKIP
"""

from forecasting.core import Forecast, forecast
from forecasting.demand import DemandForecast, SpendForecast, forecast_demand, price_demand
from forecasting.describe import describe_model
from forecasting.errors import ForecastError, ScenarioError
from forecasting.periods import PeriodProjection, period_bounds, project_period
from forecasting.presets import PRESETS
from forecasting.scenario_spec import validate_spec
from forecasting.scenarios import GoalSeek, ScenarioResult, goal_seek, run_scenario

__all__ = [
    "PRESETS",
    "DemandForecast",
    "Forecast",
    "ForecastError",
    "GoalSeek",
    "PeriodProjection",
    "ScenarioError",
    "ScenarioResult",
    "SpendForecast",
    "describe_model",
    "forecast",
    "forecast_demand",
    "goal_seek",
    "period_bounds",
    "price_demand",
    "project_period",
    "run_scenario",
    "validate_spec",
]
