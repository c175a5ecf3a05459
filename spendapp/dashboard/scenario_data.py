"""Baseline demand and prices for the scenario page, from the rollup and the price catalog.

`forecasting.runs.services` (price_table, scenario_results) will replace this when it lands;
until then the page forecasts demand per model itself, with the two cheapest candidates
(seasonal naive, ETS) so an 18-month baseline of a dozen models stays within a page load,
and caches the result by the exact history it was fitted on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from django.core.cache import cache

from forecasting import ForecastError, ScenarioError, forecast_demand, run_scenario
from forecasting.models import ETS, SeasonalNaive
from forecasting.scenarios import demand_bounds
from spendapp.usage.models import PriceOverride
from spendapp.usage.pricing import MILLION, PriceBook
from spendapp.usage.queries import SpendQuery, model_tier, spend_rows

HISTORY_DAYS = 182
HORIZON_MONTHS = 18
CACHE_SECONDS = 6 * 3600
# Models the presets move traffic to, priced from the catalog even when nobody uses them yet.
PRESET_TARGETS = (
    ("deepseek", "deepseek-v4-flash"),
    ("zai", "glm-5.1"),
    ("openai", "gpt-5.4-mini"),
    ("anthropic", "claude-opus-4-7"),
)


@dataclass(frozen=True)
class Baseline:
    demand: dict[str, pd.DataFrame]  # {"mean", "lower", "upper"} wide demand frames
    prices: dict[str, dict]
    first_day: date
    models: tuple[str, ...]


def demand_frame(today: date) -> tuple[pd.DataFrame, dict[str, str]]:
    """Daily demand per model over the last `HISTORY_DAYS` complete days, and each model's
    provider. One query (the shared spend query)."""
    last = today - timedelta(days=1)
    query = SpendQuery(last - timedelta(days=HISTORY_DAYS - 1), last, ("provider", "model"))
    rows = [r for r in spend_rows(query) if r["model"]]
    providers = {r["model"]: r["provider"] for r in rows}
    frame = pd.DataFrame(
        [
            {
                "date": pd.Timestamp(r["date"]),
                "model": r["model"],
                "input_tokens": float(r["input_tokens"]),
                "cached_input_tokens": float(r["cached_input_tokens"]),
                "output_tokens": float(r["output_tokens"]),
                "requests": float(r["requests"]),
            }
            for r in rows
        ],
        columns=[
            "date",
            "model",
            "input_tokens",
            "cached_input_tokens",
            "output_tokens",
            "requests",
        ],
    )
    return frame, providers


def price_table(providers: dict[str, str], as_of: date) -> dict[str, dict]:
    """``model -> {"input", "cached_input", "output", "request", "tier"}``, per token (float),
    from the same PriceBook ingestion uses (catalog + admin overrides)."""
    book = PriceBook(PriceOverride.objects.all())
    at = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    table = {}
    for provider, model in {*((p, m) for m, p in providers.items()), *PRESET_TARGETS}:
        prices = book.lookup(provider, model, at)
        if prices is None or model in table:
            continue
        table[model] = {
            "input": float(prices.input / MILLION),
            "cached_input": float(prices.cached_input / MILLION),
            "output": float(prices.output / MILLION),
            "request": 0.0,
            "tier": model_tier(model),
        }
    return table


def _cache_key(frame: pd.DataFrame, horizon: int) -> str:
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes() + str(horizon).encode()
    ).hexdigest()
    return f"dashboard:demand:{digest}"


def baseline(today: date) -> Baseline | str:
    """The baseline demand forecast and prices, or why there is none."""
    frame, providers = demand_frame(today)
    prices = price_table(providers, today)
    frame = frame[frame["model"].isin(list(prices))]
    if frame.empty:
        return "no priced usage in the last six months to build a baseline from"
    if frame["date"].nunique() < 14:
        return "the baseline needs at least 14 days of usage"
    # Whole months only: the current, partial month would show as a dip and skew savings.
    first = (pd.Timestamp(today) + pd.offsets.MonthBegin(1)).date()
    last = (
        pd.Timestamp(first) + pd.DateOffset(months=HORIZON_MONTHS) - pd.Timedelta(days=1)
    ).date()
    horizon = (last - today).days + 1
    key = _cache_key(frame, horizon)
    demand = cache.get(key)
    if demand is None:
        try:
            forecast_result = forecast_demand(
                frame,
                keys=("model",),
                horizon=horizon,
                levels=(80,),
                candidates=(SeasonalNaive, ETS),
                combine=False,
            )
            bounds = demand_bounds(forecast_result, level=80)
        except ForecastError as exc:
            return str(exc)
        demand = {
            bound: part[part["date"] >= pd.Timestamp(first)].reset_index(drop=True)
            for bound, part in bounds.items()
        }
        cache.set(key, demand, CACHE_SECONDS)
    return Baseline(demand, prices, first, tuple(sorted(frame["model"].unique())))


def results(base: Baseline, specs: list[dict]) -> tuple[object, list]:
    """(baseline result, [(spec, ScenarioResult | error message)])."""
    baseline_result = run_scenario(base.demand, base.prices, {"name": "Baseline", "transforms": []})
    out = []
    for spec in specs:
        try:
            out.append((spec, run_scenario(base.demand, base.prices, spec)))
        except ScenarioError as exc:
            out.append((spec, str(exc)))
    return baseline_result, out
