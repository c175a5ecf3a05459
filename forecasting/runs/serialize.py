"""JSON-ready dicts of forecasts and scenario results (commands, dashboard API).

Money is a decimal string rounded to cents; dates are ISO. A total shown with its parts is
the sum of the parts' rounded amounts, so what users see adds up to the cent.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd

from forecasting import ScenarioResult
from forecasting.demand import to_cents
from forecasting.runs.forecasts import GroupForecast


def _money(value) -> str:
    return str(to_cents(float(value)))


def _scores(group: GroupForecast) -> list[dict]:
    rows = []
    for row in group.forecast.scores.to_dict("records"):
        rows.append(
            {
                "model": row["model"],
                "mase": _num(row["mase"]),
                "relative_mase": _num(row["relative_mase"]),
                "coverage": _num(row["coverage"]),
                "chosen": bool(row["chosen"]),
            }
        )
    return rows


def _num(value) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 4)


def _rows(frame: pd.DataFrame, levels, mean_override: dict | None = None) -> list[dict]:
    rows = []
    for day, row in frame.iterrows():
        out = {"date": day.date().isoformat()}
        out["mean"] = mean_override[day] if mean_override else _money(row["mean"])
        for level in levels:
            out[f"lower_{level}"] = _money(row[f"lower_{level}"])
            out[f"upper_{level}"] = _money(row[f"upper_{level}"])
        rows.append(out)
    return rows


def group_json(group: GroupForecast, levels, mean_override: dict | None = None) -> dict:
    rows = _rows(group.frame, levels, mean_override)
    return {
        "key": group.key,
        "total": not group.key,
        "measure": group.measure,
        "model": group.forecast.model,
        "basis": group.basis,
        "scores": _scores(group),
        "notes": [*group.forecast.notes, *group.notes],
        "rejected": [{"model": r.model, "reason": r.reason} for r in group.forecast.rejected],
        # The sum of the rounded days shown, so that the horizon totals add up too.
        "horizon_total": str(sum((Decimal(row["mean"]) for row in rows), Decimal("0.00"))),
        "rows": rows,
    }


def forecast_json(
    total: GroupForecast, parts: list[GroupForecast], failed: dict, *, as_of, horizon, levels, by
) -> dict:
    """``{"as_of", "horizon", "levels", "by", "series": [total, *parts], "failed"}``."""
    parts_json = [group_json(p, levels) for p in parts]
    override = None
    if parts_json:
        override = {}
        for i, day in enumerate(total.frame.index):
            cents = sum(Decimal(p["rows"][i]["mean"]) for p in parts_json)
            override[day] = str(cents)
    return {
        "as_of": as_of.isoformat(),
        "horizon": horizon,
        "levels": list(levels),
        "by": list(by),
        "series": [group_json(total, levels, override), *parts_json],
        "failed": [{"key": "/".join(map(str, k)), "reason": why} for k, why in failed.items()],
    }


def _month_rows(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for period, row in frame.iterrows():
        out = {"month": str(period)}
        for column, value in row.items():
            out[str(column)] = round(float(value), 2) if column == "savings_pct" else str(value)
        rows.append(out)
    return rows


def scenario_json(result: ScenarioResult) -> dict:
    return {
        "name": result.name,
        "description": result.description,
        "monthly": _month_rows(result.monthly),
        "by_tier": _month_rows(result.by_tier),
        "total": str(result.total),
        "baseline_total": str(result.baseline_total),
        "savings": str(result.savings),
        "savings_pct": round(result.savings_pct, 2),
        "break_even": None if result.break_even is None else str(result.break_even),
    }


def scenarios_json(results: list[ScenarioResult]) -> dict:
    """``{"baseline": {"monthly": [{"month", "spend"}], "total"}, "scenarios": [...]}``."""
    baseline = results[0]
    return {
        "baseline": {
            "monthly": [
                {"month": str(period), "spend": str(value)}
                for period, value in baseline.monthly["spend"].items()
            ],
            "by_tier": _month_rows(baseline.by_tier),
            "total": str(baseline.total),
        },
        "scenarios": [scenario_json(r) for r in results[1:]],
    }
