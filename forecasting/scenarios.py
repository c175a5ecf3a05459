"""Workload-mix scenarios on a baseline demand forecast (pure pandas, no Django).

Order of composition
--------------------
Transforms are applied **in list order** to the demand rows (``date, model, project`` and the
measures ``input_tokens, cached_input_tokens, output_tokens, requests``), each one seeing the
result of the previous ones: ``[shift A->B, growth where model=B]`` grows the moved traffic,
the reverse order does not. ``price_change`` transforms edit the price schedule (also in list
order between themselves); pricing happens once after all demand transforms, so their position
relative to demand transforms does not matter.

Ramps: the effect of a transform at date ``d`` is its full effect times ``r(d)``: ``step`` is 1
from ``start``; ``linear`` grows from 0 to 1 over ``months``; ``s-curve`` is the smoothstep
``3x^2 - 2x^3`` of the linear ramp ``x`` (slow start, fast middle, slow end).

Intervals: transforms and prices are linear and non-negative in demand, so spend is monotone
in demand. The same transforms are applied to the mean, lower and upper demand of each series
(`demand_bounds`); the scenario's interval is the spend of the lower and upper demand. This
treats series as moving together, so it is the conservative (wide) interval.

Money: computed in float (these are forecasts), presented as ``Decimal`` rounded to cents;
per-tier amounts are rounded per cell and month totals are the sums of the rounded tiers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from forecasting.demand import MEASURES, DemandForecast, generative, to_cents, unit_prices
from forecasting.errors import ScenarioError
from forecasting.scenario_spec import validate_spec

DAYS_PER_MONTH = 365.25 / 12
ROW_KEYS = ["date", "model", "project"]


def demand_bounds(demand: DemandForecast, level: float = 80) -> dict[str, pd.DataFrame]:
    """Wide demand frames ``{"mean", "lower", "upper"}`` from a demand forecast."""
    frame = demand.frame
    if "model" not in frame:
        raise ScenarioError("demand: needs a 'model' key")
    out = {}
    for bound, column in (
        ("mean", "mean"),
        ("lower", f"lower_{level}"),
        ("upper", f"upper_{level}"),
    ):
        if column not in frame:
            raise ScenarioError(f"level: {level} is not a level of the demand forecast")
        project = frame.get("project", "")
        wide = (
            frame.assign(project=project)
            .pivot_table(index=ROW_KEYS, columns="measure", values=column, aggfunc="sum")
            .reset_index()
        )
        wide.columns.name = None
        out[bound] = wide
    return out


def _normalise_demand(demand) -> dict[str, pd.DataFrame]:
    if isinstance(demand, DemandForecast):
        demand = demand_bounds(demand)
    if isinstance(demand, pd.DataFrame):
        demand = {"mean": demand, "lower": demand, "upper": demand}
    out = {}
    for bound in ("mean", "lower", "upper"):
        frame = demand[bound].copy()
        if "project" not in frame:
            frame["project"] = ""
        missing = [c for c in ("date", "model") if c not in frame]
        if missing:
            raise ScenarioError(f"demand: missing columns {missing}")
        for m in MEASURES:
            if m not in frame:
                frame[m] = 0.0
        frame["date"] = pd.to_datetime(frame["date"])
        out[bound] = frame[[*ROW_KEYS, *MEASURES]].astype(dict.fromkeys(MEASURES, float))
    return out


def _tiers(prices: Mapping, models) -> dict[str, str]:
    out = {}
    for model in models:
        if model not in prices:
            raise ScenarioError(f"prices: no price for model {model!r}")
        out[model] = str(prices[model].get("tier", "unknown"))
    return out


def ramp(dates: pd.Series, t: dict, first: pd.Timestamp) -> np.ndarray:
    """Share of a transform's full effect at each date (0 before ``start``)."""
    start = pd.Timestamp(t.get("start") or first)
    elapsed = (dates - start).dt.days.to_numpy() / DAYS_PER_MONTH
    active = elapsed >= 0
    kind = t.get("ramp", "step")
    if kind == "step":
        return active.astype(float)
    x = np.clip(elapsed / t["months"], 0.0, 1.0) * active
    return x if kind == "linear" else x * x * (3.0 - 2.0 * x)


def _select(frame: pd.DataFrame, selector: Mapping | None, tiers: Mapping) -> np.ndarray:
    if not selector:
        return np.ones(len(frame), dtype=bool)
    ((key, name),) = selector.items()
    if key == "tier":
        return _by_model(frame, tiers) == name
    return frame[key].eq(name).to_numpy()


def _move(frame, mask, weights, to_model, token_ratio):
    moved = frame[mask].copy()
    moved[list(MEASURES)] = moved[list(MEASURES)].to_numpy() * weights[mask][:, None]
    moved["output_tokens"] *= token_ratio
    moved["model"] = to_model
    return moved


def _apply(frame: pd.DataFrame, t: dict, tiers: Mapping, first) -> pd.DataFrame:
    kind = t["type"]
    r = ramp(frame["date"], t, first)
    measures = list(MEASURES)
    if kind in ("shift", "route"):
        if kind == "shift":
            mask = _select(frame, t["from"], tiers) & frame["model"].ne(t["to"]).to_numpy()
            parts = [_move(frame, mask, t["share"] * r, t["to"], t["token_ratio"])]
            keep = 1.0 - t["share"] * r
        else:
            mask = _select(frame, {"tier": t["tier"]} if t["tier"] else None, tiers)
            parts = [
                _move(frame, mask, t["share"] * r, t["small"], t["token_ratio"]),
                _move(frame, mask, (1.0 - t["share"]) * r, t["frontier"], 1.0),
            ]
            keep = 1.0 - r
        out = frame.copy()
        out.loc[mask, measures] = out.loc[mask, measures].to_numpy() * keep[mask][:, None]
        # The moved rows are appended, not merged into the target model's rows: pricing and
        # the linear transforms give the same money either way (`_merged` runs where not).
        return pd.concat([out, *parts], ignore_index=True)
    out = frame.copy()
    mask = _select(frame, t.get("where"), tiers)
    if kind == "growth":
        start = pd.Timestamp(t.get("start") or first)
        months = np.clip((frame["date"] - start).dt.days.to_numpy() / DAYS_PER_MONTH, 0, None)
        factor = (
            np.where(r > 0, t["factor"], 1.0) if "factor" in t else (1.0 + t["monthly"]) ** months
        )
        out.loc[mask, measures] = out.loc[mask, measures].to_numpy() * factor[mask][:, None]
    elif kind == "fewer_calls":
        factor = 1.0 - t["reduction"] * r
        out.loc[mask, measures] = out.loc[mask, measures].to_numpy() * factor[mask][:, None]
    elif kind == "shorter_context":
        cols = ["input_tokens", "cached_input_tokens"]
        factor = 1.0 - t["reduction"] * r
        out.loc[mask, cols] = out.loc[mask, cols].to_numpy() * factor[mask][:, None]
    elif kind == "cache_hit":
        target = out["input_tokens"].to_numpy() * t["share"] * r
        cached = np.maximum(out["cached_input_tokens"].to_numpy(), target)
        out.loc[mask, "cached_input_tokens"] = cached[mask]
    return out


def _by_model(frame: pd.DataFrame, values: Mapping) -> np.ndarray:
    """``values[model]`` for each row (one lookup per model, not per row)."""
    codes, models = pd.factorize(frame["model"])
    return np.asarray([values[m] for m in models], dtype=object)[codes]


def _tier_column(frame: pd.DataFrame, tiers: Mapping) -> pd.Categorical:
    """Each row's tier, as a categorical with the tier names in sorted order."""
    codes, models = pd.factorize(frame["model"])
    tier_codes, names = pd.factorize(
        np.asarray([tiers[m] for m in models], dtype=object), sort=True
    )
    return pd.Categorical.from_codes(tier_codes[codes], categories=names.astype(str))


def _daily_spend(frame: pd.DataFrame, prices: Mapping, changes: list[dict], first) -> np.ndarray:
    codes, models = pd.factorize(frame["model"])
    measures = list(MEASURES)
    # Unit price of each measure for each row: a (models x measures) table indexed by code.
    coefs = np.array([[unit_prices(prices, model)[m] for m in measures] for model in models])
    per_row = coefs.reshape(len(models), len(measures))[codes]
    for k, model in enumerate(models):
        mine = [c for c in changes if c["model"] == model]
        if not mine:
            continue
        idx = np.flatnonzero(codes == k)
        dates = frame["date"].iloc[idx]
        table = {key: float(v) for key, v in prices[model].items() if key != "tier"}
        factors = per_row[idx]
        for change in mine:
            if "prices" in change:
                active = ramp(dates, {**change, "ramp": "step"}, first) > 0
                new = unit_prices({model: {**table, **change["prices"]}}, model)
                factors = np.where(active[:, None], [new[m] for m in measures], factors)
            if "monthly_change" in change:
                start = pd.Timestamp(change.get("start") or first)
                months = np.clip((dates - start).dt.days.to_numpy() / DAYS_PER_MONTH, 0, None)
                factors = factors * ((1.0 + change["monthly_change"]) ** months)[:, None]
        per_row[idx] = factors
    values = frame[measures].to_numpy()
    spend = np.zeros(len(frame))
    for j in range(len(measures)):
        spend += values[:, j] * per_row[:, j]
    return spend


def apply_scenario(
    demand: pd.DataFrame, prices: Mapping, spec: dict, *, one_row_per_key: bool = True
) -> pd.DataFrame:
    """Transformed demand with a ``spend`` column and the ``tier`` of each row.

    One row per (date, model, project) unless ``one_row_per_key=False``: then traffic moved
    to a model may sit in rows of its own beside that model's rows (the same sums, faster
    for callers that only add up)."""
    spec = validate_spec(spec)
    frame = _normalise_demand(demand)["mean"]
    priced = _priced(frame, prices, spec)
    if not one_row_per_key or not priced.duplicated(ROW_KEYS).any():
        return priced
    merged = _merged(priced, [*MEASURES, "spend"])
    return merged.assign(tier=_tier_column(merged, _tiers(prices, merged["model"].unique())))


def _merged(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """One row per (date, model, project), ``columns`` summed."""
    return frame.groupby(ROW_KEYS, as_index=False, sort=True)[columns].sum()


# Moved rows sit beside the rows they join (see `_apply`) until the frame has grown this much.
_MERGE_GROWTH = 3


def _priced(frame: pd.DataFrame, prices: Mapping, spec: dict) -> pd.DataFrame:
    first = frame["date"].min()
    changes = [t for t in spec["transforms"] if t["type"] == "price_change"]
    for t in spec["transforms"]:
        for key in ("to", "small", "frontier"):
            if key in t:
                _tiers(prices, [t[key]])
                if not generative(prices[t[key]]):
                    raise ScenarioError(
                        f"{t['type']}: {key} model {t[key]!r} is priced for input only (an "
                        "embedding or moderation model): it cannot take chat or agent traffic"
                    )
    tiers = _tiers(prices, frame["model"].unique())
    rows = len(frame)
    for t in spec["transforms"]:
        if t["type"] == "price_change":
            continue
        # A cache-hit target is not linear in the rows (a max per row): it needs them merged.
        if len(frame) > rows and (t["type"] == "cache_hit" or len(frame) > _MERGE_GROWTH * rows):
            frame = _merged(frame, list(MEASURES))
        frame = _apply(frame, t, {**tiers, **_tiers(prices, frame["model"].unique())}, first)
    tiers = _tiers(prices, frame["model"].unique())
    return frame.assign(
        tier=_tier_column(frame, tiers), spend=_daily_spend(frame, prices, changes, first)
    )


@dataclass(frozen=True)
class ScenarioResult:
    """Monthly spend of a scenario against the baseline.

    ``monthly`` has columns ``baseline, spend, lower, upper, savings, savings_pct`` (money as
    Decimal cents, ``savings_pct`` in percent as float); ``by_tier`` has one column per tier.
    ``break_even`` is the first month whose cumulative savings cover ``migration_cost``.
    """

    name: str
    description: str
    monthly: pd.DataFrame
    by_tier: pd.DataFrame
    total: Decimal
    baseline_total: Decimal
    savings: Decimal
    savings_pct: float
    break_even: pd.Period | None


def _monthly(priced: pd.DataFrame) -> pd.Series:
    return priced.groupby(priced["date"].dt.to_period("M"))["spend"].sum()


def scenario_spend(demand, prices: Mapping, spec: dict) -> dict[str, pd.Series]:
    """Monthly float spend for the mean, lower and upper demand (no rounding)."""
    spec = validate_spec(spec)
    frames = _normalise_demand(demand)
    return {bound: _monthly(_priced(frames[bound], prices, spec)) for bound in frames}


def run_scenario(
    demand,
    prices: Mapping,
    spec: dict,
    *,
    migration_cost: float | None = None,
    baseline: pd.Series | None = None,
) -> ScenarioResult:
    """Price a scenario on baseline demand and compare it with the baseline.

    Parameters
    ----------
    demand : DemandForecast, pandas.DataFrame or dict
        Baseline demand: a demand forecast, one wide frame (``date, model, project``,
        measures) or ``{"mean", "lower", "upper"}`` wide frames.
    prices : mapping
        ``model -> {"input", "cached_input", "output", "request", "tier"}``; prices per unit.
    spec : dict
        Scenario spec (see `forecasting.scenario_spec`).
    migration_cost : float, optional
        One-off cost of the migration, for the break-even month.
    baseline : pandas.Series, optional
        The baseline's monthly spend when the caller has priced it already (several
        scenarios on one baseline); by default it is priced here.

    Returns
    -------
    ScenarioResult
    """
    spec = validate_spec(spec)
    frames = _normalise_demand(demand)
    priced = _priced(frames["mean"], prices, spec)
    if baseline is None:
        untouched = not spec["transforms"]
        baseline = _monthly(
            priced if untouched else _priced(frames["mean"], prices, {**spec, "transforms": []})
        )
    spend = {"spend": _monthly(priced)}
    for bound in ("lower", "upper"):
        spend[bound] = _monthly(_priced(frames[bound], prices, spec))
    tier = priced.groupby([priced["date"].dt.to_period("M"), "tier"], observed=True)["spend"].sum()
    by_tier = tier.unstack(fill_value=0.0).map(to_cents)
    monthly = pd.DataFrame(
        {
            "baseline": baseline.map(to_cents),
            "spend": by_tier.sum(axis=1),
            "lower": spend["lower"].map(to_cents),
            "upper": spend["upper"].map(to_cents),
        }
    )
    monthly["savings"] = monthly["baseline"] - monthly["spend"]
    monthly["savings_pct"] = [
        float(s / b * 100) if b else 0.0
        for s, b in zip(monthly["savings"], monthly["baseline"], strict=True)
    ]
    total, base_total = sum(monthly["spend"], Decimal(0)), sum(monthly["baseline"], Decimal(0))
    return ScenarioResult(
        name=spec["name"],
        description=spec["description"],
        monthly=monthly,
        by_tier=by_tier,
        total=total,
        baseline_total=base_total,
        savings=base_total - total,
        savings_pct=float((base_total - total) / base_total * 100) if base_total else 0.0,
        break_even=break_even_month(monthly["savings"], migration_cost),
    )


def break_even_month(savings: pd.Series, cost: float | None) -> pd.Period | None:
    """The first month whose cumulative ``savings`` (monthly, in money) cover ``cost``."""
    if cost is None:
        return None
    cumulative = savings.cumsum()
    reached = cumulative[cumulative >= to_cents(cost)]
    return None if reached.empty else reached.index[0]


@dataclass(frozen=True)
class GoalSeek:
    """Share of traffic meeting a spend target; ``None`` when even share 1 is not enough.

    ``share_lower`` / ``share_upper`` are the shares needed with the lower / upper demand
    (the same target amount), i.e. the share's interval from demand uncertainty.
    """

    target: float
    share: float | None
    share_lower: float | None
    share_upper: float | None
    spend: float | None


def goal_seek(
    demand,
    prices: Mapping,
    spec: dict,
    *,
    index: int = 0,
    target: float | None = None,
    cut: float | None = None,
    tol: float = 1e-6,
) -> GoalSeek:
    """Find the share of a ``shift``/``route`` transform that brings spend under a target.

    Parameters
    ----------
    demand, prices, spec
        As for `run_scenario`.
    index : int
        Position of the shift or route transform whose ``share`` is searched.
    target : float, optional
        Spend over the whole horizon to stay under.
    cut : float, optional
        Alternatively, a cut factor: ``cut=3`` targets baseline mean spend / 3.
    tol : float
        Bisection tolerance on the share.

    Returns
    -------
    GoalSeek
    """
    spec = validate_spec(spec)
    if not 0 <= index < len(spec["transforms"]) or spec["transforms"][index]["type"] not in (
        "shift",
        "route",
    ):
        raise ScenarioError(f"index: transforms[{index}] must be a shift or route")
    if (target is None) == (cut is None):
        raise ScenarioError("target: give exactly one of 'target' or 'cut'")
    frames = _normalise_demand(demand)
    if cut is not None:
        if not cut > 0:
            raise ScenarioError(f"cut: must be positive, got {cut!r}")
        base = _priced(frames["mean"], prices, {**spec, "transforms": []})["spend"].sum()
        target = float(base) / cut

    def total(frame, share):
        transforms = list(spec["transforms"])
        transforms[index] = {**transforms[index], "share": share}
        return float(_priced(frame, prices, {**spec, "transforms": transforms})["spend"].sum())

    shares = {b: _bisect(lambda s, f=frames[b]: total(f, s), target, tol) for b in frames}
    spend = None if shares["mean"] is None else total(frames["mean"], shares["mean"])
    # Higher demand needs a larger share to meet the same amount.
    return GoalSeek(
        target=target,
        share=shares["mean"],
        share_lower=shares["lower"],
        share_upper=shares["upper"],
        spend=spend,
    )


def _bisect(f, target: float, tol: float) -> float | None:
    lo, hi = 0.0, 1.0
    f_lo, f_hi = f(lo), f(hi)
    if f_lo <= target:
        return 0.0
    if f_hi > target:
        return None
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if f(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def with_share(spec: dict, index: int, share: float) -> dict:
    """Copy of ``spec`` with ``transforms[index].share`` replaced."""
    spec = validate_spec(spec)
    spec["transforms"][index] = {**spec["transforms"][index], "share": share}
    return spec
