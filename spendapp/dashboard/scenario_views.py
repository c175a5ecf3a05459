"""The scenarios page: the builder form, presets and saved scenarios priced on one baseline,
the live preview and goal seek (JSON for the page's script), the share links, saving and
deleting (the owner, or a user allowed to manage scenarios)."""

from __future__ import annotations

import json
import math
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from forecasting import PRESETS, ForecastError, ScenarioError, validate_spec
from forecasting.demand import generative
from forecasting.presets import cheapest
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
    share_needed,
    what_moved,
)
from forecasting.scenario_spec import MAX_DISCOUNT, MAX_JSON_BYTES, parse_transforms
from spendapp.core.roles import can_manage_scenario, can_save_scenarios, dashboard_view
from spendapp.dashboard import charts

MAX_SCENARIOS = MAX_COMPARED
MAX_BODY_BYTES = MAX_JSON_BYTES + 8 * 1024  # the transforms plus name, notes and the token
BASELINE_COLOR = "#1d2430"


# --- scenarios ---------------------------------------------------------------------------------
#
# What is compared lives in the URL, so it can be shared: ``?compare=slug1,slug2`` names saved
# scenarios by slug; presets join as ``preset:NAME`` (``?compare=preset:80/20,slug1``).
# ``focus=KEY`` picks the scenario whose 80% band and "what moved" table are shown.


PRESET_PREFIX = "preset:"
PARAMS = ("compare", "edit", "focus")


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


def _assumptions(post) -> dict | None:
    """The form's price assumptions (``discount`` in percent, ``carry_ratio`` yes/no) as the
    spec's ``assumptions``; None when they are the defaults (no discount, carried over)."""
    raw = (post.get("discount") or "").strip()
    try:
        discount = float(raw) / 100 if raw else 0.0
    except ValueError:
        discount = math.nan
    if not math.isfinite(discount) or not 0 <= discount <= MAX_DISCOUNT:
        raise ScenarioError(f"discount: a percentage from 0 to {MAX_DISCOUNT * 100:g}")
    carry = post.get("carry_ratio", "yes")
    if carry not in ("yes", "no"):
        raise ScenarioError("carry_ratio: yes or no")
    if not discount and carry == "yes":
        return None
    return {"discount": discount, "carry_ratio": carry == "yes"}


def _draft_spec(request) -> tuple[dict | None, str, list[str]]:
    """The scenario of the build/edit form (POST), validated: (spec, raw JSON, errors)."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        # Checked before Django parses the body; the form is shown again without it.
        return None, "", [f"request: at most {MAX_BODY_BYTES // 1024} KB"]
    raw = request.POST.get("transforms", "").strip() or "[]"
    name = request.POST.get("name", "").strip()
    try:
        draft = {
            "name": name or "Draft",
            "description": request.POST.get("notes", ""),
            "transforms": parse_transforms(raw),
        }
        assumptions = _assumptions(request.POST)
        if assumptions:
            draft["assumptions"] = assumptions
        spec = validate_spec(draft)
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


def _color(i: int) -> str:
    return charts.OKABE_ITO[(i + 1) % len(charts.OKABE_ITO)]


def _scenario_figure(base_result, compared, focus: int | None) -> dict:
    """Baseline and scenarios per month; only the baseline's and the focused scenario's 80%
    bands are drawn (several overlapping bands are unreadable). Each band trace carries
    ``meta.band`` = its scenario's index so that the page's script can switch the focus."""
    fig = charts.empty_figure()
    months = [str(p) for p in base_result.monthly.index]
    monthly = base_result.monthly
    charts.add_band(
        fig,
        months,
        monthly["lower"],
        monthly["upper"],
        color=BASELINE_COLOR,
        name="Baseline 80%",
        group="Baseline",
        alpha=0.1,
    )
    charts.line(fig, months, monthly["spend"], name="Baseline", color=BASELINE_COLOR)
    for i, result in enumerate(compared):
        frame = result.monthly
        start = len(fig.data)
        charts.add_band(
            fig,
            months,
            frame["lower"],
            frame["upper"],
            color=_color(i),
            name=f"{result.name} 80%",
            group=result.name,
        )
        for trace in fig.data[start:]:
            trace.meta = {"band": i}
            trace.visible = i == focus
        charts.line(
            fig,
            months,
            frame["spend"],
            name=result.name,
            color=_color(i),
            dash="dash",
            group=result.name,
        )
    return charts.finish(fig, y_format="money", y_title="Spend per month").to_dict()


def _savings_figure(compared) -> dict:
    fig = charts.empty_figure()
    for i, result in enumerate(compared):
        fig.add_bar(
            x=[str(p) for p in result.monthly.index],
            y=[float(v) for v in result.monthly["savings"]],
            name=result.name,
            marker={"color": _color(i)},
            hovertemplate="%{fullData.name}: $%{y:,.0f}<extra></extra>",
        )
    charts.finish(fig, y_format="money", y_title="Savings per month")
    fig.update_layout(barmode="group")  # side by side, one bar per scenario and month
    return fig.to_dict()


def _preset_choices(presets: dict, keys, priced: bool = True) -> list[dict]:
    """Every preset; those `preset_specs` left out lack a priced model to build them on."""
    return [
        {
            "name": name,
            "key": f"{PRESET_PREFIX}{name}",
            "available": name in presets or not priced,
            "description": presets[name]["description"]
            if name in presets
            else ("no priced model of the tier it needs" if priced else ""),
            "checked": f"{PRESET_PREFIX}{name}" in keys,
        }
        for name in PRESETS
    ]


def _saved_choices(keys) -> list[dict]:
    return [
        {"scenario": scenario, "checked": scenario.slug in keys}
        for scenario in Scenario.objects.select_related("owner")[:50]
    ]


def _form(request, editing: Scenario | None) -> dict:
    spec = editing.spec if editing else {}
    assumptions = spec.get("assumptions") or {}
    form = {
        "name": editing.name if editing else "",
        "notes": editing.notes if editing else "",
        "transforms": json.dumps(spec.get("transforms", []), indent=1) if editing else "",
        "discount": f"{assumptions.get('discount', 0) * 100:g}" if assumptions else "",
        "carry_ratio": "no" if assumptions.get("carry_ratio") is False else "yes",
    }
    if request.method == "POST":
        post = request.POST
        form.update(
            name=post.get("name", ""),
            notes=post.get("notes", ""),
            discount=post.get("discount", ""),
            carry_ratio=post.get("carry_ratio", "yes"),
        )
    return form


def _builder_options(inputs: ScenarioInputs) -> dict:
    """What the builder's menus offer: the organisation's own models, tiers and projects
    (the baseline's) and every priced catalog model with its effective prices; traffic can
    move only to the generative ones (`forecasting.demand.generative`)."""
    mean = inputs.demand["mean"]
    used = inputs.used
    models = [
        {
            "name": model,
            "provider": inputs.rows[model].provider,
            "tier": price["tier"],
            "input": round(float(price["input"]) * 1e6, 4),
            "output": round(float(price["output"]) * 1e6, 4),
            "used": model in used,
            "generative": generative(price),
        }
        for model, price in sorted(inputs.prices.items())
    ]
    try:
        # A new shift's target: the small model the 80/20 preset would pick.
        default_target = cheapest(inputs.prices, "small")
    except ScenarioError:
        default_target = ""
    return {
        "models": models,
        "default_target": default_target,
        "tiers": sorted({m["tier"] for m in models if m["used"]}),
        "projects": sorted(p for p in mean["project"].unique() if p),
        "first_month": str(inputs.month),
    }


def _invalid_draft(request, form: dict, errors: list[str], editing) -> object:
    """The form again with its errors (400), without pricing anything: a bad or oversized
    draft costs no more than parsing it."""
    keys = _compare_keys(request.GET)
    context = {
        "page": "scenarios",
        "errors": errors,
        "invalid_draft": True,
        "presets": _preset_choices({}, keys, priced=False),
        "saved": _saved_choices(keys),
        "form": form,
        "editing": editing,
        "can_save": can_save_scenarios(request.user),
        "max_scenarios": MAX_SCENARIOS,
    }
    return render(request, "dashboard/scenarios.html", context, status=400)


@dashboard_view
def scenarios(request):
    legacy = request.GET.getlist("s")
    if legacy and request.method == "GET" and "compare" not in request.GET:
        # Links of the first release: ?s=preset:NAME&s=saved:SLUG.
        keys = [k.removeprefix("saved:") for k in legacy]
        return redirect(compare_url(keys), permanent=True)
    errors: list[str] = []
    unknown = [p for p in request.GET if p not in PARAMS]
    errors.extend(f"{p}: unknown parameter (use {', '.join(PARAMS)})" for p in unknown)
    editing = _get_scenario(request.GET["edit"]) if request.GET.get("edit") else None
    form = _form(request, editing)
    draft = None
    if request.method == "POST":
        draft, form["transforms"], form_errors = _draft_spec(request)
        if form_errors:
            return _invalid_draft(request, form, errors + form_errors, editing)
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
        "empty_reason": empty_reason,
    }
    if inputs is not None:
        baseline, compared = _results([spec for _, spec in selected], errors, inputs)
        if isinstance(baseline, str):
            context["empty_reason"] = baseline
        else:
            context.update(_comparison(request, inputs, baseline, compared, selected))
    status = 400 if errors else 200
    return render(request, "dashboard/scenarios.html", context, status=status)


def _comparison(request, inputs, baseline, compared, selected) -> dict:
    names = [r.name for r in compared]
    specs = {spec["name"]: spec for _, spec in selected}
    focus, moved = None, None
    if compared:
        focus = len(compared) - 1  # the draft, else the last one picked
        chosen = dict(selected).get(request.GET.get("focus", ""))
        if chosen is not None and chosen["name"] in names:
            focus = names.index(chosen["name"])
        try:
            moved = what_moved(inputs, specs[names[focus]])
        except (ScenarioError, ForecastError, ArithmeticError, KeyError):
            moved = None
    return {
        "baseline": baseline,
        "compared": compared,
        "focus": focus,
        "focus_name": compared[focus].name if focus is not None else "",
        "moved": moved,
        "inputs": inputs,
        "builder_options": _builder_options(inputs),
        "price_rows": _price_rows(inputs),
        "models": [f"{model} ({p['tier']})" for model, p in sorted(inputs.prices.items())],
        "rates": sorted(
            {(r.provider, r.ratio) for r in inputs.rows.values() if r.basis == "provider"}
        ),
        "chart_scenarios": charts.to_json(_scenario_figure(baseline, compared, focus)),
        "chart_savings": charts.to_json(_savings_figure(compared)) if compared else "",
    }


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


# --- the page's script: live preview and goal seek (JSON) ---------------------------------------


def _json_error(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _draft_or_error(request):
    spec, _, errors = _draft_spec(request)
    if errors:
        return None, None, _json_error("; ".join(errors))
    try:
        inputs = scenario_inputs()
    except (ScenarioError, ForecastError) as exc:
        return None, None, _json_error(str(exc).removeprefix("history: "), 409)
    return spec, inputs, None


@require_POST
@dashboard_view
def scenario_preview(request):
    """The builder's live preview: the draft priced on the baseline, as the chart's figure
    (with the comparison of the page's URL) and its totals."""
    spec, inputs, error = _draft_or_error(request)
    if error:
        return error
    errors: list[str] = []
    presets = preset_specs(inputs.prices)
    selected = _selected_specs(_compare_keys(request.GET), presets, errors)
    selected = [*selected[: MAX_SCENARIOS - 1], ("draft", spec)]
    try:
        baseline, *compared = scenario_results([s for _, s in selected], inputs=inputs)
    except (ScenarioError, ForecastError) as exc:
        return _json_error(str(exc))
    except ArithmeticError:
        return _json_error("transforms: together, these numbers are too large to price")
    draft = compared[-1]
    return JsonResponse(
        {
            "figure": _scenario_figure(baseline, compared, len(compared) - 1),
            "savings_figure": _savings_figure(compared),
            "draft": {
                "name": draft.name,
                "total": str(draft.total),
                "baseline_total": str(draft.baseline_total),
                "savings": str(draft.savings),
                "savings_pct": round(draft.savings_pct, 1),
                "lower": str(sum(draft.monthly["lower"])),
                "upper": str(sum(draft.monthly["upper"])),
                "months": len(draft.monthly),
            },
        }
    )


def _positive(raw: str, field: str) -> float | None:
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ScenarioError(f"{field}: must be a positive number")
    return value


@require_POST
@dashboard_view
def scenario_goal(request):
    """Goal seek for the builder: the share of transform ``goal_index`` that reaches
    ``goal_monthly`` dollars a month on average, or a ``goal_cut``-fold cut."""
    spec, inputs, error = _draft_or_error(request)
    if error:
        return error
    try:
        raw_index = request.POST.get("goal_index", "")
        if not raw_index.isdigit() or int(raw_index) >= len(spec["transforms"]):
            raise ScenarioError("goal_index: pick a shift or route transform")
        monthly = _positive(request.POST.get("goal_monthly", ""), "goal_monthly")
        cut = _positive(request.POST.get("goal_cut", ""), "goal_cut")
        if (monthly is None) == (cut is None):
            raise ScenarioError("goal_monthly: give a monthly amount or a cut factor (not both)")
        found = share_needed(inputs, spec, index=int(raw_index), monthly=monthly, cut=cut)
    except (ScenarioError, ForecastError) as exc:
        return _json_error(str(exc))
    share = lambda v: None if v is None else round(v, 4)  # noqa: E731
    return JsonResponse(
        {
            "target_monthly": str(found.target_monthly),
            "months": found.months,
            "share": share(found.share),
            "share_lower": share(found.share_lower),
            "share_upper": share(found.share_upper),
        }
    )


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


@require_POST
@dashboard_view
def scenario_delete(request, slug: str):
    scenario = _get_scenario(slug)
    if not can_manage_scenario(request.user, scenario):
        raise PermissionDenied("Only the owner (or an admin) can delete this scenario.")
    scenario.delete()
    messages.success(request, f"Scenario “{scenario.name}” deleted.")
    return redirect("scenarios")
