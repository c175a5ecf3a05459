"""Scenario pricing: the price table, the stored demand baseline and scenario results on it.

The baseline a scenario is measured from
----------------------------------------
* **Demand**: the day's token demand forecast per model x project (`DemandBaseline`), fitted
  once per day of actuals by the nightly task, after a sync, by ``manage.py scenario`` or the
  page's "Compute now" (a page view only queues it, and uses the latest earlier one
  meanwhile). A scenario is re-pricing plus transforms, never a fit.
* **Prices**: list prices (`spendapp.usage.pricing.PriceBook`: catalog + admin overrides)
  times what the bill says a list dollar costs (`effective_ratios`); time-of-day prices
  (DeepSeek's off-peak window) are spread over the organisation's hourly traffic profile.
* **Reconciled to the projection**: the priced demand is scaled per day to the stored total
  spend forecast (the overview's), and the current month's days so that month 1 (actuals to
  date + the rest) is the overview's projected total. The scale is shown on the page.

Prices of models the organisation does not use yet follow the scenario's ``assumptions``:
list x the provider's effective ratio where the organisation has billing history with that
provider (``carry_ratio``, default on), else list x (1 - ``discount``).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from django.conf import settings
from django.db.models import F, Sum
from django.db.models.functions import ExtractHour

from forecasting import (
    PRESETS,
    ScenarioError,
    ScenarioResult,
    forecast_demand,
    run_scenario,
    validate_spec,
)
from forecasting.demand import MEASURES, to_cents, unit_prices
from forecasting.runs.candidates import BASELINE_CANDIDATES
from forecasting.runs.forecasts import ForecastNotReady, _extend_to, stored_forecast, total_series
from forecasting.runs.history import (
    DEMAND_MEASURES,
    _window,
    default_as_of,
    demand_history,
    spend_history,
)
from forecasting.runs.models import DemandBaseline, Scenario
from forecasting.scenarios import apply_scenario, break_even_month, goal_seek
from spendapp.usage.calendar import data_today, period_containing
from spendapp.usage.calibration import current_ratios
from spendapp.usage.models import DailyModelSpend, HourlySpend, PriceOverride
from spendapp.usage.pricing import MILLION, PriceBook
from spendapp.usage.tiers import TierBook

log = logging.getLogger(__name__)

MAX_COMPARED = 4
MAX_HORIZON_MONTHS = 24  # the stored baseline reaches this far; scenarios show up to it
DEFAULT_HORIZON_MONTHS = 18
# Model x project series fitted one by one (largest list-priced demand of the last 90 days);
# the rest are folded per model into OTHER_PROJECTS, so a big organisation's nightly fit and
# a scenario's re-pricing stay bounded. Transforms selecting a folded project see none of it.
MAX_SERIES = 150
OTHER_PROJECTS = "(other projects)"
PROFILE_DAYS = 28  # the hourly traffic profile behind time-of-day prices
MTOK_PLACES = Decimal("0.000001")
# Models the preset scenarios name, with the catalog provider that prices them.
PRESET_MODELS = {
    "gpt-5.5": "openai",
    "gpt-5.4-mini": "openai",
    "claude-opus-4-7": "anthropic",
    "deepseek-v4-flash": "deepseek",
    "glm-5.1": "zai",
}
PRICE_NAMES = ("input", "cached_input", "output")


class BaselineNotReady(ScenarioError):
    """No demand baseline is stored yet (a page view never fits one)."""


def _moment(day: date | None) -> datetime:
    day = day or data_today()
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _models() -> dict[str, str]:
    """Every model seen in the rollup plus the models the presets name, with its provider."""
    providers: dict[str, str] = {}
    seen = DailyModelSpend.objects.exclude(model="").values_list("model", "provider").distinct()
    for model, provider in sorted(seen):
        providers.setdefault(model, provider)  # one price per model name (the core's key)
    for model, provider in PRESET_MODELS.items():
        providers.setdefault(model, provider)
    return providers


def effective_ratios(providers: dict[str, str], ratios=None) -> dict[str, tuple[Decimal, str]]:
    """``model -> (ratio, basis)``: what the bill says a list dollar of the model costs the
    organisation (`spendapp.usage.calibration.current_ratios`): the model's own learned ratio
    (the mean over the accounts that use it), else its provider's, else 1 ("list": no billing
    history)."""
    ratios = ratios or current_ratios()
    per_model: dict[str, list[Decimal]] = {}
    for (_, model), found in ratios.by_account_model.items():
        per_model.setdefault(model, []).append(found.ratio)
    out = {}
    for model, provider in providers.items():
        if per_model.get(model):
            values = per_model[model]
            out[model] = (sum(values, Decimal(0)) / len(values), "model")
        elif provider in ratios.by_provider:
            out[model] = (ratios.by_provider[provider], "provider")
        else:
            out[model] = (Decimal(1), "list")
    return out


def hourly_profile(as_of: date) -> tuple[float, ...]:
    """The organisation's share of tokens in each UTC hour of the day (24 shares summing to
    1) over the `PROFILE_DAYS` days up to ``as_of``; uniform without hourly usage. Stored
    with the day's demand baseline (pages read it from there)."""
    start = _moment(as_of) - timedelta(days=PROFILE_DAYS - 1)
    rows = (
        HourlySpend.objects.filter(hour__gte=start, hour__lt=_moment(as_of) + timedelta(1))
        .annotate(h=ExtractHour("hour", tzinfo=UTC))
        .values("h")
        .annotate(tokens=Sum(F("input_uncached_tokens") + F("input_cached_tokens")))
        .annotate(out=Sum("output_tokens"))
        .order_by()
    )
    weights = np.zeros(24)
    for row in rows:
        weights[int(row["h"])] = float((row["tokens"] or 0) + (row["out"] or 0))
    total = weights.sum()
    return tuple(float(w) for w in weights / total) if total > 0 else (1 / 24,) * 24


@dataclass(frozen=True)
class PriceRow:
    """One model's prices: list ($/Mtok, time-of-day prices already spread over the traffic
    profile), its provider and tier, and the effective ratio the bill gives it."""

    provider: str
    tier: str
    list_mtok: dict[str, Decimal]
    ratio: Decimal
    basis: str  # "model", "provider" or "list" (`effective_ratios`)
    time_of_day: bool = False
    peak_share: float | None = None  # share of traffic at the dearer time-of-day price


def price_rows(
    as_of: date | None = None, profile: Sequence[float] | None = None
) -> dict[str, PriceRow]:
    """`PriceRow` of every model seen in the rollup plus the models the presets name; models
    without a known price are left out. Five queries (overrides, tier bands and overrides,
    models seen, ratios), plus the hourly profile (`hourly_profile`) when a model has
    time-of-day prices and ``profile`` is not given."""
    at = _moment(as_of)
    book = PriceBook(PriceOverride.objects.all())
    tiers = TierBook(book)
    providers = _models()
    ratios = effective_ratios(providers)
    rows = {}
    for model, provider in sorted(providers.items()):
        prices = book.lookup(provider, model, at)
        if prices is None:
            continue
        list_mtok = {name: getattr(prices, name) for name in PRICE_NAMES}
        time_of_day, peak = book.is_hourly(provider, model), None
        if time_of_day:
            profile = profile or hourly_profile(as_of or at.date())
            hours = [book.lookup(provider, model, at.replace(hour=h)) or prices for h in range(24)]
            list_mtok = {
                name: sum(
                    (
                        Decimal(str(float(w))) * getattr(p, name)
                        for w, p in zip(profile, hours, strict=True)
                    ),
                    Decimal(0),
                )
                for name in PRICE_NAMES
            }
            cheapest = min(h.input for h in hours)
            peak = float(sum(w for w, h in zip(profile, hours, strict=True) if h.input > cheapest))
        ratio, basis = ratios[model]
        rows[model] = PriceRow(
            provider, tiers.tier(provider, model, at), list_mtok, ratio, basis, time_of_day, peak
        )
    return rows


def _table(rows: dict[str, PriceRow], ratio_of) -> dict:
    table = {}
    for model, row in rows.items():
        ratio = ratio_of(model, row)
        # $/Mtok to 6 places, as catalog prices are: the engine's sums stay exact.
        table[model] = {
            **{
                name: (row.list_mtok[name] * ratio).quantize(MTOK_PLACES) / MILLION
                for name in PRICE_NAMES
            },
            "request": Decimal(0),
            "tier": row.tier,
        }
    return table


def price_table(
    as_of: date | None = None,
    *,
    effective: bool = True,
    assumptions: dict | None = None,
    used: Sequence[str] = (),
    rows: dict[str, PriceRow] | None = None,
) -> dict:
    """Prices of every model seen in the rollup plus the models the presets name.

    Returns
    -------
    dict
        ``model -> {"input", "cached_input", "output", "request": Decimal per token,
        "tier": str}``, the format of `forecasting.price_demand` and `run_scenario`. Prices
        are the ingestion `PriceBook`'s (catalog + admin overrides) at ``as_of`` (default
        today) times the model's effective ratio (`effective_ratios`: what the bill says, so
        batch, flex and negotiated discounts count as they do in spend); ``effective=False``
        gives list prices. Models not in ``used`` (the baseline's) follow ``assumptions``
        (`forecasting.scenario_spec`): the provider's ratio when ``carry_ratio`` and the
        organisation has billing history with it, else list x (1 - ``discount``). Tiers
        always come from list prices. Models without a known price are left out.
    """
    rows = rows if rows is not None else price_rows(as_of)
    if not effective:
        return _table(rows, lambda model, row: Decimal(1))
    assumptions = assumptions or {}
    discount = Decimal(repr(float(assumptions.get("discount", 0.0))))
    carry = assumptions.get("carry_ratio", True)
    used = set(used)

    def ratio_of(model: str, row: PriceRow) -> Decimal:
        if model in used or (carry and row.basis != "list"):
            return row.ratio
        return Decimal(1) - discount

    return _table(rows, ratio_of)


def preset_specs(prices: dict | None = None) -> dict[str, dict]:
    """The preset scenarios built on the current price table, by preset name.

    A preset whose models have no price (or no model of the tier it needs) is left out.
    """
    prices = prices if prices is not None else price_table()
    specs = {}
    for name, build in PRESETS.items():
        try:
            specs[name] = build(prices)
        except ScenarioError as exc:
            log.warning("preset %s unavailable: %s", name, exc)
    return specs


def _horizon_days(as_of: date, horizon_months: int) -> int:
    if (
        not isinstance(horizon_months, int)
        or isinstance(horizon_months, bool)
        or not 1 <= horizon_months <= MAX_HORIZON_MONTHS
    ):
        raise ScenarioError(
            f"horizon_months: must be a whole number from 1 to {MAX_HORIZON_MONTHS}, "
            f"got {horizon_months!r}"
        )
    first = pd.Timestamp(as_of + timedelta(days=1))
    last = (first.to_period("M") + (horizon_months - 1)).end_time.normalize()
    return (last.date() - as_of).days


# --- the stored demand baseline ----------------------------------------------------------------

KEYS = ("model", "project")
BOUNDS = ("mean", "lower", "upper")
_COLUMNS = {"mean": "mean", "lower": "lower_80", "upper": "upper_80"}


def _fold(history: pd.DataFrame, prices: dict, as_of: date) -> tuple[pd.DataFrame, int]:
    """Keep the `MAX_SERIES` model x project series of most list-priced demand over the last
    90 days; fold the others per model into `OTHER_PROJECTS`. (frame, series folded)."""
    recent = history[history["date"] > pd.Timestamp(as_of - timedelta(days=90))]
    value = np.zeros(len(recent))
    for model, idx in recent.groupby("model").indices.items():
        coef = unit_prices(prices, model)
        value[idx] = sum(recent[m].to_numpy()[idx] * coef[m] for m in MEASURES)
    ranked = (
        recent.assign(value=value).groupby(list(KEYS))["value"].sum().sort_values(ascending=False)
    )
    series = history[list(KEYS)].drop_duplicates()
    keep = set(ranked.index[:MAX_SERIES])
    folded = [k for k in map(tuple, series.to_numpy()) if k not in keep]
    if not folded:
        return history, 0
    fold = ~pd.Series(
        [tuple(k) in keep for k in history[list(KEYS)].to_numpy()], index=history.index
    )
    history = history.copy()
    history.loc[fold, "project"] = OTHER_PROJECTS
    grouped = history.groupby(["date", *KEYS], as_index=False)[list(DEMAND_MEASURES)].sum()
    return grouped, len(folded)


def _pack(frame: pd.DataFrame) -> tuple[bytes, list[str], list[str]]:
    """The long demand forecast frame as NumPy arrays (see `DemandBaseline`): not compressed,
    since inflating ~8 MB took ~45 ms of a cold page and saved a quarter of the size."""
    wide = frame.pivot_table(
        index=["date", *KEYS], columns="measure", values=list(_COLUMNS.values()), aggfunc="sum"
    ).fillna(0.0)
    index = wide.index.to_frame(index=False)
    models_, model_codes = np.unique(index["model"].astype(str), return_inverse=True)
    projects, project_codes = np.unique(index["project"].astype(str), return_inverse=True)
    values = np.stack(
        [
            np.column_stack([wide[(column, m)].to_numpy(float) for m in DEMAND_MEASURES])
            for column in _COLUMNS.values()
        ],
        axis=1,
    )
    days = (pd.to_datetime(index["date"]).to_numpy("datetime64[D]")).astype(np.int32)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        day=days,
        model=model_codes.astype(np.int32),
        project=project_codes.astype(np.int32),
        values=np.clip(values, 0.0, None),
    )
    return buffer.getvalue(), list(models_), list(projects)


def _unpack(baseline: DemandBaseline) -> dict[str, pd.DataFrame]:
    with np.load(io.BytesIO(bytes(baseline.data)), allow_pickle=False) as arrays:
        days, values = arrays["day"], arrays["values"]
        # Names by code with the string array's own take (one C call), built once and shared
        # by the three frames: building strings per row from Python objects took ~100 ms.
        model = pd.array(list(baseline.model_names), dtype="str").take(arrays["model"])
        project = pd.array(list(baseline.project_names), dtype="str").take(arrays["project"])
    dates = pd.to_datetime(days.astype("datetime64[D]"))
    out = {}
    for i, bound in enumerate(BOUNDS):
        frame = pd.DataFrame({"date": dates, "model": model, "project": project})
        for j, measure in enumerate(DEMAND_MEASURES):
            frame[measure] = values[:, i, j]
        out[bound] = frame
    return out


def compute_baseline(as_of: date | None = None, *, trigger: str = "manual") -> DemandBaseline:
    """Fit and store the demand baseline of ``as_of`` (default: the last complete day) over
    `MAX_HORIZON_MONTHS` months. Raises `ScenarioError` without priced token usage."""
    as_of = as_of or default_as_of()
    if as_of is None:
        raise ScenarioError("history: no usage data yet")
    started = time.monotonic()
    horizon = _horizon_days(as_of, MAX_HORIZON_MONTHS)
    profile = hourly_profile(as_of)
    prices = price_table(as_of, effective=False, rows=price_rows(as_of, profile))
    history = demand_history(*_window(as_of), by=KEYS)
    history = history[history["model"].isin(prices)] if len(history) else history
    if history.empty:
        raise ScenarioError("history: no priced token usage in the last year")
    history, folded = _fold(history, prices, as_of)
    extended = _extend_to(history, KEYS, DEMAND_MEASURES, as_of)
    demand = forecast_demand(
        extended,
        keys=KEYS,
        measures=DEMAND_MEASURES,
        horizon=horizon,
        levels=(80,),
        candidates=BASELINE_CANDIDATES,
        workers=getattr(settings, "FORECAST_WORKERS", 1),
    )
    if demand.frame.empty:
        raise ScenarioError("history: no series could be forecast")
    data, model_names, project_names = _pack(demand.frame)
    notes = [f"{'/'.join(map(str, k))}: not forecast ({why})" for k, why in demand.failed.items()]
    if folded:
        notes.append(f"{folded} smaller model x project series folded into {OTHER_PROJECTS!r}")
    return DemandBaseline.objects.create(
        as_of=as_of,
        horizon=horizon,
        trigger=trigger,
        model_names=model_names,
        project_names=project_names,
        hourly_profile=list(profile),
        data=data,
        notes=notes,
        duration=timedelta(seconds=time.monotonic() - started),
    )


_LOADED: dict[int, dict[str, pd.DataFrame]] = {}


def stored_baseline(as_of: date) -> tuple[DemandBaseline, dict[str, pd.DataFrame]] | None:
    """The newest stored baseline made on or before ``as_of`` and its frames (cached in the
    process by id: a stored baseline never changes)."""
    found = (
        DemandBaseline.objects.filter(as_of__lte=as_of)
        .defer("data")
        .order_by("-as_of", "-created_at")
        .first()
    )
    if found is None:
        return None
    if found.pk not in _LOADED:
        found.data = DemandBaseline.objects.values_list("data", flat=True).get(pk=found.pk)
        _LOADED.clear()  # one baseline per process is plenty; keeps memory bounded
        _LOADED[found.pk] = _unpack(found)
    return found, _LOADED[found.pk]


# --- what a scenario is priced on ----------------------------------------------------------------


@dataclass
class ScenarioInputs:
    """The baseline demand (reconciled, cut to the horizon), prices and this month's actuals."""

    as_of: date
    baseline_as_of: date
    demand: dict[str, pd.DataFrame]
    rows: dict[str, PriceRow]
    prices: dict
    actuals: dict[str, Decimal]  # this month's spend to date by tier (month 1 of every result)
    month: pd.Period
    scale: tuple[float, float] | None = None  # range of the per-day reconciliation factor
    notes: list[str] = field(default_factory=list)

    @property
    def used(self) -> set[str]:
        return set(self.demand["mean"]["model"].unique())

    @property
    def stale(self) -> bool:
        return self.baseline_as_of < self.as_of

    def prices_for(self, spec: dict) -> dict:
        if not spec.get("assumptions"):
            return self.prices
        return price_table(assumptions=spec["assumptions"], used=self.used, rows=self.rows)


def _priced_days(frame: pd.DataFrame, prices: dict) -> pd.Series:
    spend = np.zeros(len(frame))
    for model, idx in frame.groupby("model").indices.items():
        coef = unit_prices(prices, model)
        spend[idx] = sum(frame[m].to_numpy()[idx] * coef[m] for m in MEASURES)
    return pd.Series(spend, index=frame.index).groupby(frame["date"]).sum()


def _reconcile(inputs: ScenarioInputs, projection) -> None:
    """Scale demand per day so that it prices to the stored total spend forecast, and the
    current month's rest to the projection's (`forecasting.runs.projections`)."""
    priced = _priced_days(inputs.demand["mean"], inputs.prices)
    try:
        total = stored_forecast(total_series(None, 1, inputs.as_of)).mean
    except ForecastNotReady:
        inputs.notes.append(
            "not reconciled with the spend forecast: none is stored for "
            f"{inputs.as_of:%b %-d} yet (it is made after each sync and nightly)"
        )
        return
    days = priced.index
    both = total.reindex(days)
    factor = (both / priced).where((priced > 0) & both.notna())
    known = factor.dropna()
    if known.empty:
        return
    tail = known.index[-28:]
    after = float(total.reindex(tail).sum() / priced.reindex(tail).sum())
    factor = factor.where(factor.notna() | (days <= known.index[-1]), after).fillna(1.0)
    if projection is not None and projection.ready and projection.as_of == inputs.as_of:
        month = days.to_period("M") == inputs.month
        rest = float(projection.total - projection.actual_to_date)
        here = float((priced[month] * factor[month]).sum())
        if here > 0 and rest >= 0:
            factor[month] = factor[month] * rest / here
    for bound, frame in inputs.demand.items():
        scaled = frame.copy()
        f = factor.reindex(frame["date"]).to_numpy()
        scaled[list(DEMAND_MEASURES)] = frame[list(DEMAND_MEASURES)].to_numpy() * f[:, None]
        inputs.demand[bound] = scaled
    inputs.scale = (float(factor.min()), float(factor.max()))


def _actuals(inputs: ScenarioInputs, first: date) -> dict[str, Decimal]:
    if inputs.month.start_time.date() > inputs.as_of:
        return {}
    frame = spend_history(inputs.month.start_time.date(), inputs.as_of, by=("model",))
    if frame.empty:
        return {}
    tiers = frame["model"].map(lambda m: inputs.rows[m].tier if m in inputs.rows else "other")
    return {tier: to_cents(v) for tier, v in frame.groupby(tiers)["spend"].sum().items()}


def scenario_inputs(
    horizon_months: int = DEFAULT_HORIZON_MONTHS, *, compute: bool = False, projection=None
) -> ScenarioInputs:
    """Everything a scenario is priced on, read from stored data.

    Without a baseline made on the last complete day, ``compute=True`` fits and stores one
    (commands); otherwise the newest earlier one serves (cut to the days still ahead, with a
    note) and `BaselineNotReady` says when there is none at all (pages queue the fit).
    ``projection``: the month projection when the caller has it (pages), else read here.
    """
    as_of = default_as_of()
    if as_of is None:
        raise ScenarioError("history: no usage data yet")
    horizon = _horizon_days(as_of, horizon_months)
    found = stored_baseline(as_of)
    if (found is None or found[0].as_of < as_of) and compute:
        compute_baseline(as_of)
        found = stored_baseline(as_of)
    if found is None:
        raise BaselineNotReady(
            f"the scenarios' demand forecast for {as_of:%b %-d} is being computed "
            "(after each sync and nightly)"
        )
    baseline, frames = found
    last = pd.Timestamp(as_of + timedelta(days=horizon))
    demand = {}
    for bound, frame in frames.items():
        keep = (frame["date"] > pd.Timestamp(as_of)) & (frame["date"] <= last)
        demand[bound] = frame[keep].reset_index(drop=True)
    if demand["mean"].empty:
        raise BaselineNotReady("the stored demand forecast does not reach the horizon")
    rows = price_rows(as_of, baseline.hourly_profile or None)
    missing = set(demand["mean"]["model"].unique()) - set(rows)
    if missing:  # a model whose price was removed since the fit
        demand = {b: f[~f["model"].isin(missing)].reset_index(drop=True) for b, f in demand.items()}
    prices = price_table(rows=rows)
    first = as_of + timedelta(days=1)
    inputs = ScenarioInputs(
        as_of=as_of,
        baseline_as_of=baseline.as_of,
        demand=demand,
        rows=rows,
        prices=prices,
        actuals={},
        month=pd.Period(first, "M"),
    )
    if inputs.stale:
        inputs.notes.append(
            f"demand forecast of {baseline.as_of:%b %-d} (today's is being computed)"
        )
    if projection is None:
        from forecasting.runs.projections import month_projection

        projection = month_projection()
    _reconcile(inputs, projection)
    if period_containing("month").start == inputs.month.start_time.date():
        inputs.actuals = _actuals(inputs, first)
    return inputs


BASELINE_SPEC = {
    "name": "Baseline",
    "description": "Current workload mix at the organisation's effective prices (list price x "
    "what the bill says), reconciled with the spend forecast.",
    "transforms": [],
}


def _with_actuals(
    result: ScenarioResult,
    inputs: ScenarioInputs,
    baseline: pd.Series | None = None,
    migration_cost: float | None = None,
) -> ScenarioResult:
    """Month 1 with this month's spend to date added (transforms start after it), and the
    ``baseline`` column set to the baseline result's own monthly spend (the sum of its tiers'
    cents), so every figure of one comparison refers to the same baseline to the cent."""
    monthly = result.monthly.copy()
    by_tier = result.by_tier.copy()
    if inputs.actuals and inputs.month in monthly.index:
        actual = sum(inputs.actuals.values(), Decimal(0))
        for column in ("lower", "upper"):
            monthly.loc[inputs.month, column] = monthly.loc[inputs.month, column] + actual
        for tier, amount in inputs.actuals.items():
            if tier not in by_tier:
                by_tier[tier] = Decimal("0.00")
            by_tier.loc[inputs.month, tier] = by_tier.loc[inputs.month, tier] + amount
        by_tier = by_tier.map(lambda v: v if isinstance(v, Decimal) else to_cents(v))
        monthly["spend"] = by_tier.sum(axis=1)
    monthly["baseline"] = baseline if baseline is not None else monthly["spend"]
    monthly["savings"] = monthly["baseline"] - monthly["spend"]
    monthly["savings_pct"] = [
        float(s / b * 100) if b else 0.0
        for s, b in zip(monthly["savings"], monthly["baseline"], strict=True)
    ]
    total = sum(monthly["spend"], Decimal(0))
    base_total = sum(monthly["baseline"], Decimal(0))
    return replace(
        result,
        monthly=monthly,
        by_tier=by_tier,
        total=total,
        baseline_total=base_total,
        savings=base_total - total,
        savings_pct=float((base_total - total) / base_total * 100) if base_total else 0.0,
        break_even=break_even_month(monthly["savings"], migration_cost),
    )


def scenario_results(
    specs: list[dict],
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    migration_cost: Decimal | None = None,
    *,
    inputs: ScenarioInputs | None = None,
    compute: bool = False,
) -> list[ScenarioResult]:
    """The baseline and up to four scenarios on the same baseline demand and prices.

    Returns ``[baseline, *one result per spec]``. Raises `ScenarioError` naming the field of
    the first invalid spec (prefixed ``specs[i].`` when several are given), before any read.
    """
    if len(specs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(specs)}")
    validated = []
    for i, spec in enumerate(specs):
        try:
            validated.append(validate_spec(spec))
        except ScenarioError as exc:
            raise ScenarioError(f"specs[{i}].{exc}" if len(specs) > 1 else str(exc)) from None
    inputs = inputs or scenario_inputs(horizon_months, compute=compute)
    cost = None if migration_cost is None else float(migration_cost)
    base = _with_actuals(run_scenario(inputs.demand, inputs.prices, BASELINE_SPEC), inputs)
    results = [base]
    for spec in validated:
        result = run_scenario(
            inputs.demand, inputs.prices_for(spec), spec, baseline=base.monthly["spend"]
        )
        results.append(_with_actuals(result, inputs, base.monthly["spend"], cost))
    return results


def compare_saved(
    slugs: Sequence[str],
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    migration_cost: Decimal | None = None,
    *,
    compute: bool = False,
) -> tuple[list[Scenario], list[ScenarioResult]]:
    """Saved scenarios by slug (the shareable URL part) and their results, baseline first."""
    if len(slugs) > MAX_COMPARED:
        raise ScenarioError(f"specs: compare at most {MAX_COMPARED} scenarios, got {len(slugs)}")
    found = {s.slug: s for s in Scenario.objects.filter(slug__in=slugs)}
    missing = [slug for slug in slugs if slug not in found]
    if missing:
        raise ScenarioError(f"scenario: no saved scenario {missing[0]!r}")
    scenarios = [found[slug] for slug in slugs]
    results = scenario_results(
        [s.spec for s in scenarios], horizon_months, migration_cost, compute=compute
    )
    return scenarios, results


# --- what moved, goal seek --------------------------------------------------------------------

_BASELINE_PRICED: dict[int, pd.DataFrame] = {}


def _baseline_priced(inputs: ScenarioInputs) -> pd.DataFrame:
    key = id(inputs.demand["mean"])
    if key not in _BASELINE_PRICED:
        _BASELINE_PRICED.clear()
        _BASELINE_PRICED[key] = apply_scenario(inputs.demand["mean"], inputs.prices, BASELINE_SPEC)
    return _BASELINE_PRICED[key]


def _sums(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    tokens = frame["input_tokens"] + frame["output_tokens"]
    return frame.assign(tokens=tokens).groupby(key)[["tokens", "spend"]].sum()


def what_moved(inputs: ScenarioInputs, spec: dict) -> dict[str, list[dict]]:
    """Per tier and per model over the horizon's forecast days: tokens (input + output) and
    spend before (the baseline) and after the scenario, largest change in spend first."""
    spec = validate_spec(spec)
    before = _baseline_priced(inputs)
    after = apply_scenario(
        inputs.demand["mean"], inputs.prices_for(spec), spec, one_row_per_key=False
    )
    out = {}
    for key in ("tier", "model"):
        joined = (
            _sums(before, key)
            .join(_sums(after, key), how="outer", suffixes=("_before", "_after"))
            .fillna(0.0)
        )
        rows = []
        for name, row in joined.iterrows():
            rows.append(
                {
                    "name": str(name),
                    "tokens_before": float(row["tokens_before"]),
                    "tokens_after": float(row["tokens_after"]),
                    "tokens_moved": float(row["tokens_after"] - row["tokens_before"]),
                    "spend_before": to_cents(row["spend_before"]),
                    "spend_after": to_cents(row["spend_after"]),
                    "change": to_cents(row["spend_after"] - row["spend_before"]),
                }
            )
        rows.sort(key=lambda r: abs(r["change"]), reverse=True)
        out[key] = [r for r in rows if r["tokens_before"] or r["tokens_after"]]
    return out


@dataclass(frozen=True)
class ShareNeeded:
    """The share of one shift/route transform that meets a spend target, with its interval
    (the shares needed with the lower and upper demand); ``None`` when even all of it does
    not reach the target."""

    target_monthly: Decimal  # the average monthly spend aimed at, over the horizon
    share: float | None
    share_lower: float | None
    share_upper: float | None
    months: int


def share_needed(
    inputs: ScenarioInputs,
    spec: dict,
    *,
    index: int,
    monthly: float | None = None,
    cut: float | None = None,
) -> ShareNeeded:
    """Goal seek on a scenario: which share of ``transforms[index]`` brings the average
    monthly spend over the horizon to ``monthly`` dollars, or the horizon's spend to the
    baseline's divided by ``cut`` (3 = a 3x cut). This month's spend to date is fixed."""
    spec = validate_spec(spec)
    if (monthly is None) == (cut is None):
        raise ScenarioError("target: give a monthly amount or a cut factor")
    baseline = run_scenario(inputs.demand, inputs.prices, BASELINE_SPEC)
    months = len(baseline.monthly)
    actual = float(sum(inputs.actuals.values(), Decimal(0)))
    if cut is not None:
        if not 1 < cut <= 1000:
            raise ScenarioError(f"cut: must be more than 1 and at most 1000, got {cut:g}")
        goal = (float(baseline.total) + actual) / cut
    else:
        if not 0 < monthly < 1e12:
            raise ScenarioError("target: must be a positive amount per month")
        goal = monthly * months
    target = goal - actual
    if target <= 0:
        raise ScenarioError("target: below this month's spend to date")
    found = goal_seek(
        inputs.demand, inputs.prices_for(spec), spec, index=index, target=target, tol=1e-3
    )
    return ShareNeeded(
        target_monthly=to_cents(goal / months),
        share=found.share,
        share_lower=found.share_lower,
        share_upper=found.share_upper,
        months=months,
    )
