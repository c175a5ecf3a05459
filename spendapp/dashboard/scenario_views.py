"""The scenarios page: presets and saved scenarios priced on one baseline, the share links,
saving and deleting (the owner, or a user allowed to manage scenarios)."""

from __future__ import annotations

import json
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from forecasting import PRESETS, ForecastError, ScenarioError, validate_spec
from forecasting.runs.history import default_as_of
from forecasting.runs.models import DemandBaseline, Scenario
from forecasting.runs.projections import month_projection
from forecasting.runs.receivers import queue_baseline_refresh
from forecasting.runs.scenarios import (
    MAX_COMPARED,
    BaselineNotReady,
    ScenarioInputs,
    compute_baseline,
    preset_specs,
    scenario_inputs,
    scenario_results,
)
from forecasting.scenario_spec import MAX_JSON_BYTES, parse_transforms
from spendapp.core.roles import can_manage_scenario, can_save_scenarios, dashboard_view
from spendapp.dashboard import charts

MAX_SCENARIOS = MAX_COMPARED
MAX_BODY_BYTES = MAX_JSON_BYTES + 8 * 1024  # the transforms plus name, notes and the token


# --- scenarios ---------------------------------------------------------------------------------
#
# What is compared lives in the URL, so it can be shared: ``?compare=slug1,slug2`` names saved
# scenarios by slug; presets join as ``preset:NAME`` (``?compare=preset:80/20,slug1``).


PRESET_PREFIX = "preset:"


def _get_scenario(slug: str) -> Scenario:
    return get_object_or_404(Scenario.objects.select_related("owner"), slug=slug)


def compare_url(keys) -> str:
    """The share link of a comparison: ``/scenarios/?compare=a,b``."""
    keys = list(keys)
    return f"/scenarios/?compare={quote(','.join(keys), safe=':/,')}" if keys else "/scenarios/"


def _compare_keys(params) -> list[str]:
    """``compare`` items in order, from ``compare=a,b`` and/or repeated ``compare=``."""
    keys: list[str] = []
    for raw in params.getlist("compare"):
        keys.extend(part.strip() for part in raw.split(",") if part.strip())
    return list(dict.fromkeys(keys))


def _selected_specs(keys: list[str], presets: dict, errors: list[str]) -> list[tuple[str, dict]]:
    """(key, spec) of up to `MAX_SCENARIOS` presets and saved scenarios (one query)."""
    if len(keys) > MAX_SCENARIOS:
        errors.append(f"compare: compare at most {MAX_SCENARIOS} scenarios at once")
        keys = keys[:MAX_SCENARIOS]
    slugs = [k for k in keys if not k.startswith(PRESET_PREFIX)]
    saved = {s.slug: s for s in Scenario.objects.filter(slug__in=slugs)} if slugs else {}
    out = []
    for key in keys:
        if key.startswith(PRESET_PREFIX):
            name = key.removeprefix(PRESET_PREFIX)
            if name in presets:
                out.append((key, presets[name]))
                continue
        elif key in saved:
            out.append((key, {**saved[key].spec, "name": saved[key].name}))
            continue
        errors.append(f"compare: {key[:60]!r} is not a preset or saved scenario you can compare")
    return out


def _draft_spec(request) -> tuple[dict | None, str, list[str]]:
    """The scenario of the build/edit form (POST), validated: (spec, raw JSON, errors)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        # Checked before Django parses the body; the form is shown again without it.
        return None, "", [f"request: at most {MAX_BODY_BYTES // 1024} KB"]
    raw = request.POST.get("transforms", "").strip() or "[]"
    name = request.POST.get("name", "").strip()
    try:
        spec = validate_spec(
            {
                "name": name or "Draft",
                "description": request.POST.get("notes", ""),
                "transforms": parse_transforms(raw),
            }
        )
    except ScenarioError as exc:
        # The spec's description is the form's notes field.
        return None, raw[:MAX_JSON_BYTES], [str(exc).replace("description:", "notes:", 1)]
    return spec, raw, []


def _results(specs: list[dict], errors: list[str], inputs: ScenarioInputs):
    """(baseline, [results]) from `scenario_results`, or (reason, []) without a baseline.

    One call for all of them; only when that fails are they tried one by one, to tell which
    scenario is at fault (or that there is no baseline at all).
    """
    try:
        baseline, *results = scenario_results(specs, inputs=inputs)
        return baseline, results
    except (ScenarioError, ForecastError) as exc:
        if not specs:
            return str(exc).removeprefix("history: "), []
    except ArithmeticError:  # Decimal overflow: numbers valid alone, not together
        if not specs:
            raise
    baseline, results = _results([], errors, inputs)
    if isinstance(baseline, str):
        return baseline, []
    for spec in specs:
        try:
            results.append(scenario_results([spec], inputs=inputs)[1])
        except (ScenarioError, ForecastError) as exc:
            errors.append(f"{spec.get('name', 'Scenario')}: {exc}")
        except ArithmeticError:
            errors.append(
                f"{spec.get('name', 'Scenario')}: transforms: together, these numbers are too "
                "large to price (lower a growth, a price or a ratio)"
            )
    return baseline, results


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
    for i, result in enumerate(compared):
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


def _preset_choices(presets: dict, keys) -> list[dict]:
    """Every preset; those `preset_specs` left out lack a priced model to build them on."""
    return [
        {
            "name": name,
            "key": f"{PRESET_PREFIX}{name}",
            "available": name in presets,
            "description": presets[name]["description"]
            if name in presets
            else "no priced model of the tier it needs",
            "checked": f"{PRESET_PREFIX}{name}" in keys,
        }
        for name in PRESETS
    ]


def _saved_choices(keys) -> list[dict]:
    return [
        {"scenario": scenario, "checked": scenario.slug in keys}
        for scenario in Scenario.objects.select_related("owner")[:50]
    ]


@dashboard_view
def scenarios(request):
    legacy = request.GET.getlist("s")
    if legacy and request.method == "GET" and "compare" not in request.GET:
        # Links of the first release: ?s=preset:NAME&s=saved:SLUG.
        keys = [k.removeprefix("saved:") for k in legacy]
        return redirect(compare_url(keys), permanent=True)
    errors: list[str] = []
    unknown = [p for p in request.GET if p not in ("compare", "edit")]
    errors.extend(f"{p}: unknown parameter (use compare, edit)" for p in unknown)
    projection = month_projection()
    inputs, empty_reason, can_compute = None, "", False
    try:
        inputs = scenario_inputs(projection=projection)
    except BaselineNotReady as exc:
        # The first view of the day without a stored baseline queues its fit (never fits).
        queue_baseline_refresh(delay=0)
        empty_reason, can_compute = str(exc), True
    except (ScenarioError, ForecastError) as exc:
        empty_reason = str(exc).removeprefix("history: ")
    presets = preset_specs(inputs.prices if inputs else None)
    keys = _compare_keys(request.GET)
    selected = _selected_specs(keys, presets, errors)
    editing = _get_scenario(request.GET["edit"]) if request.GET.get("edit") else None
    form = {
        "name": editing.name if editing else "",
        "notes": editing.notes if editing else "",
        "transforms": json.dumps(editing.spec.get("transforms", []), indent=1) if editing else "",
    }
    if request.method == "POST":
        draft, form["transforms"], form_errors = _draft_spec(request)
        form["name"], form["notes"] = request.POST.get("name", ""), request.POST.get("notes", "")
        errors.extend(form_errors)
        if draft is not None:
            selected = [*selected[: MAX_SCENARIOS - 1], ("draft", draft)]
    picked = [key for key, _ in selected if key != "draft"]
    context = {
        "page": "scenarios",
        "errors": errors,
        "presets": _preset_choices(presets, picked),
        "saved": _saved_choices(picked),
        "form": form,
        "editing": editing,
        "can_save": can_save_scenarios(request.user),
        "max_scenarios": MAX_SCENARIOS,
        "share_url": compare_url(picked) if picked else "",
        # The current month as every page shows it (the one projection service).
        "projection": projection,
        "can_compute": can_compute,
    }
    if inputs is None:
        context["empty_reason"] = empty_reason
        baseline, compared = None, []
    else:
        baseline, compared = _results([spec for _, spec in selected], errors, inputs)
    if isinstance(baseline, str):
        context["empty_reason"] = baseline
    elif baseline is not None:
        context.update(
            baseline=baseline,
            compared=compared,
            inputs=inputs,
            price_rows=_price_rows(inputs),
            models=[f"{model} ({p['tier']})" for model, p in sorted(inputs.prices.items())],
            rates=sorted(
                {(r.provider, r.ratio) for r in inputs.rows.values() if r.basis == "provider"}
            ),
            chart_scenarios=_scenario_figure(baseline, compared),
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
        messages.error(request, "; ".join(errors))
        return scenarios(request)
    slug = request.POST.get("slug", "")
    scenario = _get_scenario(slug) if slug else Scenario(owner=request.user)
    if slug and not can_manage_scenario(request.user, scenario):
        raise PermissionDenied("Only the owner (or an admin) can change this scenario.")
    scenario.name, scenario.notes, scenario.spec = name, request.POST.get("notes", ""), spec
    try:
        scenario.save()
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
        return redirect("scenarios")
    messages.success(request, f"Scenario “{scenario.name}” saved.")
    return redirect(compare_url([scenario.slug]))


def _price_rows(inputs: ScenarioInputs) -> list[dict]:
    """The price assumptions behind the page: per model list and effective $/Mtok."""
    used = inputs.used
    out = []
    for model, row in sorted(inputs.rows.items()):
        price = inputs.prices[model]
        out.append(
            {
                "model": model,
                "provider": row.provider,
                "tier": row.tier,
                "used": model in used,
                "list_input": row.list_mtok["input"],
                "list_output": row.list_mtok["output"],
                "input": price["input"] * 1_000_000,
                "output": price["output"] * 1_000_000,
                "ratio": row.ratio if row.basis != "list" else None,
                "basis": row.basis,
                "time_of_day": row.time_of_day,
                "peak_share": row.peak_share,
            }
        )
    return out


@require_POST
@dashboard_view
def scenario_compute(request):
    """The explicit action behind "Compute now": fit and store the day's demand baseline
    (once per day of actuals: a stored one is not fitted again)."""
    as_of = default_as_of()
    if as_of is not None and DemandBaseline.objects.filter(as_of=as_of).exists():
        messages.success(request, "The scenario baseline of the day is already computed.")
        return redirect("scenarios")
    try:
        compute_baseline(as_of, trigger="manual")
        messages.success(request, "Scenario baseline computed.")
    except ScenarioError as exc:
        messages.error(request, f"No baseline: {str(exc).removeprefix('history: ')}")
    return redirect("scenarios")


@require_POST
@dashboard_view
def scenario_delete(request, slug: str):
    scenario = _get_scenario(slug)
    if not can_manage_scenario(request.user, scenario):
        raise PermissionDenied("Only the owner (or an admin) can delete this scenario.")
    scenario.delete()
    messages.success(request, f"Scenario “{scenario.name}” deleted.")
    return redirect("scenarios")
