"""Forecast and scenario pages: looking ahead, on the `forecasting` core."""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from forecasting import PRESETS, ForecastError, ScenarioError, validate_spec
from forecasting.runs.models import Scenario
from spendapp.core.roles import can_save_scenarios, dashboard_view
from spendapp.dashboard import charts, queries, scenario_data
from spendapp.dashboard.filters import GROUPING_LABELS
from spendapp.dashboard.forecasts import (
    MIN_POINTS,
    backtest_table,
    cached_forecast,
    daily_series,
    hindcasts,
    history_series,
)
from spendapp.dashboard.series import label_for
from spendapp.dashboard.views import HISTORY_DAYS, data_today
from spendapp.usage.queries import SpendQuery, dimension_values, spend_rows

HORIZONS = (30, 60, 90, 180)
SERIES_KINDS = ("provider", "model", "project")
SHOWN_HISTORY_DAYS = 120
MAX_SCENARIOS = 4
BAND_COLOR = "#0f4c81"


# --- forecast ---------------------------------------------------------------------------------


def _series_choice(raw: str, known: dict[str, list[str]]) -> tuple[str, str] | str:
    """``"model:gpt-5.5"`` -> ("model", "gpt-5.5"); "" -> ("", ""); else an error message."""
    if not raw:
        return "", ""
    kind, sep, value = raw.partition(":")
    if not sep or kind not in SERIES_KINDS:
        return f"series: expected total or one of {', '.join(SERIES_KINDS)} as KIND:VALUE"
    if value not in known.get(kind, ()):
        return f"series: {value[:60]!r} is not a {GROUPING_LABELS[kind].lower()} in the data"
    return kind, value


def _forecast_history(kind: str, value: str, first, last):
    """Daily history of the total (billed where known) or of one series (estimated)."""
    if not kind:
        history = queries.spend_history(first, last)
        return history_series(history, last), "best-known spend (billed where known)"
    rows = spend_rows(SpendQuery(first, last, (), "day", {kind: (value,)}))
    values = {
        row_date: float(row["estimated_cost"]) for row in rows if (row_date := _day(row["date"]))
    }
    if not values:
        return None, "estimated spend"
    return daily_series(values, min(values), last), "estimated spend"


def _day(text: str):
    from datetime import date

    return date.fromisoformat(text[:10])


def _forecast_figure(y, fc, label: str):
    shown = y.iloc[-SHOWN_HISTORY_DAYS:]
    fig = charts.empty_figure()
    charts.line(
        fig, [d.date().isoformat() for d in shown.index], shown, name="Actual", color="#1d2430"
    )
    future = [d.date().isoformat() for d in fc.mean.index]
    charts.add_band(
        fig, future, fc.lower[95], fc.upper[95], color=BAND_COLOR, name="95% interval", alpha=0.12
    )
    charts.add_band(
        fig, future, fc.lower[80], fc.upper[80], color=BAND_COLOR, name="80% interval", alpha=0.22
    )
    charts.line(fig, future, fc.mean, name=f"Forecast ({fc.model})", color=BAND_COLOR, dash="dot")
    return charts.finish(fig, y_format="money", y_title=label)


def _hindcast_figure(y, past):
    first = min(h.actual.index[0] for h in past) - timedelta(days=14)
    shown = y[y.index >= first]
    fig = charts.empty_figure()
    charts.line(
        fig, [d.date().isoformat() for d in shown.index], shown, name="Actual", color="#1d2430"
    )
    for i, item in enumerate(past):
        color = charts.PALETTE[(i + 1) % len(charts.PALETTE)]
        x = [d.date().isoformat() for d in item.forecast.mean.index]
        group = item.label
        charts.add_band(
            fig,
            x,
            item.forecast.lower[80],
            item.forecast.upper[80],
            color=color,
            name=f"{item.label} 80%",
            group=group,
        )
        charts.line(
            fig, x, item.forecast.mean, name=item.label, color=color, dash="dot", group=group
        )
    return charts.finish(fig, y_format="money", y_title="Spend per day")


@dashboard_view
def forecast_page(request):
    today = data_today()
    first, last = today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1)
    known = dimension_values(SpendQuery(first, last))
    names = queries.entity_names()
    errors = [
        f"{p}: unknown parameter (use series, horizon)"
        for p in request.GET
        if p not in ("series", "horizon")
    ]
    choice = _series_choice(request.GET.get("series", ""), known)
    if isinstance(choice, str):
        errors.append(choice)
        choice = ("", "")
    raw_horizon = request.GET.get("horizon", "90")
    horizon = int(raw_horizon) if raw_horizon in {str(h) for h in HORIZONS} else None
    if horizon is None:
        errors.append(f"horizon: expected one of {', '.join(map(str, HORIZONS))} days")
        horizon = 90
    context = {
        "page": "forecast",
        "errors": errors,
        "horizons": HORIZONS,
        "horizon": horizon,
        "series_value": f"{choice[0]}:{choice[1]}" if choice[0] else "",
        "series_options": [
            (
                GROUPING_LABELS[kind],
                [(f"{kind}:{v}", label_for(kind, v, names)) for v in known.get(kind, [])],
            )
            for kind in SERIES_KINDS
        ],
    }
    if errors:
        return render(request, "dashboard/forecast.html", context, status=400)
    y, basis = _forecast_history(*choice, first, last)
    context["basis"] = basis
    context["series_label"] = label_for(choice[0], choice[1], names) if choice[0] else "Total"
    if y is None or len(y) < MIN_POINTS:
        context["empty_reason"] = f"a forecast needs at least {MIN_POINTS} days of spend history"
        return render(request, "dashboard/forecast.html", context)
    try:
        fc = cached_forecast(y, horizon)
    except ForecastError as exc:
        context["empty_reason"] = str(exc)
        return render(request, "dashboard/forecast.html", context)
    past = hindcasts(y)
    context.update(
        fc=fc,
        scores=backtest_table(fc),
        horizon_total=sum(fc.mean),
        horizon_lower=sum(fc.lower[80]),
        horizon_upper=sum(fc.upper[80]),
        hindcasts=past,
        chart_forecast=charts.to_json(_forecast_figure(y, fc, f"{basis} per day")),
        chart_backtest=charts.to_json(_hindcast_figure(y, past)) if past else "",
    )
    return render(request, "dashboard/forecast.html", context)


# --- scenarios --------------------------------------------------------------------------------


def _get_scenario(slug: str) -> Scenario:
    return get_object_or_404(Scenario.objects.select_related("owner"), slug=slug)


def _preset_specs(prices: dict) -> dict[str, dict | str]:
    specs = {}
    for name, build in PRESETS.items():
        try:
            specs[name] = build(prices)
        except ScenarioError as exc:
            specs[name] = str(exc)
    return specs


def _selected_specs(request, presets, errors) -> list[tuple[str, dict]]:
    """``?s=preset:80/20&s=saved:<slug>``: up to four scenarios to compare."""
    picked = request.GET.getlist("s")
    if len(picked) > MAX_SCENARIOS:
        errors.append(f"s: compare at most {MAX_SCENARIOS} scenarios at once")
        picked = picked[:MAX_SCENARIOS]
    out = []
    slugs = [p.partition(":")[2] for p in picked if p.startswith("saved:")]
    saved = {s.slug: s for s in Scenario.objects.filter(slug__in=slugs)} if slugs else {}
    for item in picked:
        kind, _, name = item.partition(":")
        if kind == "preset" and isinstance(presets.get(name), dict):
            out.append((item, presets[name]))
        elif kind == "saved" and name in saved:
            out.append((item, {**saved[name].spec, "name": saved[name].name}))
        else:
            errors.append(f"s: {item[:60]!r} is not a preset or saved scenario you can compare")
    return out


def _draft_spec(request) -> tuple[dict | None, str, list[str]]:
    """The scenario of the build/edit form (POST), validated: (spec, raw JSON, errors)."""
    raw = request.POST.get("transforms", "").strip() or "[]"
    name = request.POST.get("name", "").strip()
    try:
        transforms = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, raw, [f"transforms: not valid JSON ({exc.msg} at line {exc.lineno})"]
    try:
        spec = validate_spec(
            {
                "name": name or "Draft",
                "description": request.POST.get("notes", ""),
                "transforms": transforms,
            }
        )
    except ScenarioError as exc:
        return None, raw, [str(exc)]
    return spec, raw, []


def _scenario_figure(base_result, compared) -> str:
    fig = charts.empty_figure()
    months = [str(p) for p in base_result.monthly.index]
    monthly = base_result.monthly
    charts.add_band(
        fig,
        months,
        monthly["lower"],
        monthly["upper"],
        color="#1d2430",
        name="Baseline 80%",
        group="Baseline",
        alpha=0.1,
    )
    charts.line(fig, months, monthly["spend"], name="Baseline", color="#1d2430", group="Baseline")
    for i, (_, result) in enumerate(compared):
        color = charts.OKABE_ITO[(i + 1) % len(charts.OKABE_ITO)]
        frame = result.monthly
        charts.add_band(
            fig,
            months,
            frame["lower"],
            frame["upper"],
            color=color,
            name=f"{result.name} 80%",
            group=result.name,
        )
        charts.line(
            fig,
            months,
            frame["spend"],
            name=result.name,
            color=color,
            dash="dash",
            group=result.name,
        )
    return charts.to_json(charts.finish(fig, y_format="money", y_title="Spend per month"))


def _preset_choices(presets: dict, selected) -> list[dict]:
    keys = {key for key, _ in selected}
    return [
        {
            "name": name,
            "available": isinstance(spec, dict),
            "description": spec["description"] if isinstance(spec, dict) else spec,
            "checked": f"preset:{name}" in keys,
        }
        for name, spec in presets.items()
    ]


def _saved_choices(selected) -> list[dict]:
    keys = {key for key, _ in selected}
    return [
        {"scenario": scenario, "checked": f"saved:{scenario.slug}" in keys}
        for scenario in Scenario.objects.select_related("owner")[:50]
    ]


@dashboard_view
def scenarios(request):
    today = data_today()
    errors: list[str] = []
    unknown = [p for p in request.GET if p not in ("s", "edit")]
    errors.extend(f"{p}: unknown parameter (use s, edit)" for p in unknown)
    base = scenario_data.baseline(today)
    prices = base.prices if isinstance(base, scenario_data.Baseline) else {}
    presets = _preset_specs(prices)
    selected = _selected_specs(request, presets, errors)
    editing = _get_scenario(request.GET["edit"]) if request.GET.get("edit") else None
    form = {
        "name": editing.name if editing else "",
        "notes": editing.notes if editing else "",
        "transforms": json.dumps(editing.spec.get("transforms", []), indent=1) if editing else "",
    }
    draft = None
    if request.method == "POST":
        draft, form["transforms"], form_errors = _draft_spec(request)
        form["name"], form["notes"] = request.POST.get("name", ""), request.POST.get("notes", "")
        errors.extend(form_errors)
        if draft is not None:
            selected = [*selected[: MAX_SCENARIOS - 1], ("draft", draft)]
    context = {
        "page": "scenarios",
        "errors": errors,
        "presets": _preset_choices(presets, selected),
        "saved": _saved_choices(selected),
        "form": form,
        "editing": editing,
        "can_save": can_save_scenarios(request.user),
        "max_scenarios": MAX_SCENARIOS,
    }
    if isinstance(base, str):
        context["empty_reason"] = base
    else:
        baseline_result, outcomes = scenario_data.results(base, [spec for _, spec in selected])
        compared = [(spec, r) for spec, r in outcomes if not isinstance(r, str)]
        errors.extend(f"{spec['name']}: {r}" for spec, r in outcomes if isinstance(r, str))
        context.update(
            baseline=baseline_result,
            compared=[r for _, r in compared],
            models=base.models,
            prices=sorted(base.prices.items()),
            chart_scenarios=_scenario_figure(baseline_result, compared),
        )
    status = 400 if errors else 200
    return render(request, "dashboard/scenarios.html", context, status=status)


@require_POST
@dashboard_view
def scenario_save(request):
    if not can_save_scenarios(request.user):
        raise PermissionDenied("Saving scenarios needs the Finance or Engineering role.")
    spec, _, errors = _draft_spec(request)
    name = request.POST.get("name", "").strip()
    if not name:
        errors.append("name: give the scenario a name")
    if errors:
        return scenarios(request)
    slug = request.POST.get("slug", "")
    scenario = _get_scenario(slug) if slug else Scenario(owner=request.user)
    if slug and not (scenario.owner_id == request.user.pk or request.user.is_staff):
        raise PermissionDenied("Only the owner (or an admin) can change this scenario.")
    scenario.name, scenario.notes, scenario.spec = name, request.POST.get("notes", ""), spec
    try:
        scenario.save()
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("scenarios")
    messages.success(request, f"Scenario “{scenario.name}” saved.")
    return redirect(f"/scenarios/?s=saved:{scenario.slug}")


@require_POST
@dashboard_view
def scenario_delete(request, slug: str):
    scenario = _get_scenario(slug)
    if not (scenario.owner_id == request.user.pk or request.user.is_staff):
        raise PermissionDenied("Only the owner (or an admin) can delete this scenario.")
    scenario.delete()
    messages.success(request, f"Scenario “{scenario.name}” deleted.")
    return redirect("scenarios")
