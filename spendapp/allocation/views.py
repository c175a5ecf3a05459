"""The Finance page (/allocation/): teams, rules with a preview, shared pools, chargeback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from spendapp.allocation import chargeback as cb
from spendapp.allocation.engine import preview_rule
from spendapp.allocation.forms import RuleForm, SharedCostForm, TeamForm
from spendapp.allocation.models import AllocationRule, SharedCost, Team
from spendapp.allocation.queries import allocation_summary, top_unallocated
from spendapp.allocation.rules import data_range
from spendapp.allocation.signals import schedule_recompute
from spendapp.core import money
from spendapp.core.roles import can_edit_budgets, dashboard_view
from spendapp.providers.models import ProviderEntity
from spendapp.usage.models import DailySpend


def _require_finance(request) -> None:
    """Everyone with a dashboard role reads; Finance (or staff) changes allocation."""
    if not can_edit_budgets(request.user):
        raise PermissionDenied("Only Finance can change cost allocation.")


def _tree() -> list[tuple[Team, int]]:
    """Teams depth-first with their depth, for an indented list."""
    teams = list(Team.objects.all())
    children: dict[int | None, list[Team]] = {}
    for team in teams:
        children.setdefault(team.parent_id, []).append(team)
    out: list[tuple[Team, int]] = []
    seen: set[int] = set()

    def walk(parent, depth):
        for team in children.get(parent, []):
            if team.pk not in seen:
                seen.add(team.pk)
                out.append((team, depth))
                walk(team.pk, depth + 1)

    walk(None, 0)
    return out


def _value_options() -> list[tuple[str, str]]:
    """Known ids with names for the rule form's datalist (projects, keys, users, models)."""
    options = [
        (e.external_id, f"{e.kind}: {e.name}" if e.name else e.kind)
        for e in ProviderEntity.objects.order_by("kind", "name")
    ]
    since = datetime.now(UTC).date() - timedelta(days=90)
    models = (
        DailySpend.objects.filter(day__gte=since)
        .exclude(model="")
        .values_list("model", flat=True)
        .distinct()
        .order_by("model")
    )
    return options + [(m, "model") for m in models]


def _rule_form(data=None, instance=None) -> RuleForm:
    initial = {}
    if instance is None and data is None:
        # New rules cover all history by default: mapping a key should move its past spend.
        bounds = data_range()
        initial["valid_from"] = bounds[0] if bounds else datetime.now(UTC).date()
    return RuleForm(data, instance=instance, initial=initial)


@dashboard_view
def index(request):
    today = datetime.now(UTC).date()
    last30 = (today - timedelta(days=30), today)
    context = {
        "page": "allocation",
        "tree": _tree(),
        "rules": AllocationRule.objects.select_related("team", "shared_cost", "account"),
        "pools": SharedCost.objects.prefetch_related("shares__team"),
        "team_form": TeamForm(),
        "rule_form": _rule_form(),
        "shared_form": SharedCostForm(),
        "value_options": _value_options(),
        "summary": allocation_summary(*last30),
        "unallocated": top_unallocated(*last30, limit=10),
        "last30": last30,
        "report_month": f"{cb.previous_month(today):%Y-%m}",
    }
    return render(request, "allocation/index.html", context)


def _save_team(request, instance=None):
    _require_finance(request)
    form = TeamForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        team = form.save()
        messages.success(request, f"Team “{team.name}” saved.")
        return redirect("allocation")
    return render(
        request, "allocation/team_form.html", {"page": "allocation", "form": form, "team": instance}
    )


@dashboard_view
def team_new(request):
    return _save_team(request)


@dashboard_view
def team_edit(request, pk: int):
    return _save_team(request, get_object_or_404(Team, pk=pk))


@dashboard_view
@require_POST
def team_delete(request, pk: int):
    _require_finance(request)
    team = get_object_or_404(Team, pk=pk)
    if team.rules.exists() or team.children.exists() or team.shared_shares.exists():
        messages.error(request, f"“{team.name}” still has rules, sub-teams or shared-cost shares.")
    else:
        team.delete()
        messages.success(request, f"Team “{team.name}” deleted.")
    return redirect("allocation")


def _save_rule(request, instance=None):
    _require_finance(request)
    form = _rule_form(request.POST or None, instance=instance)
    preview = None
    if request.method == "POST" and form.is_valid():
        rule = form.instance
        preview = preview_rule(rule)
        if request.POST.get("action") != "preview":
            form.save()
            messages.success(
                request,
                f"Rule saved: it moves {money.exact(preview.estimated_cost)} (estimated) of "
                f"{preview.date_from:%B %Y}. The allocation is being recomputed.",
            )
            return redirect("allocation")
    context = {
        "page": "allocation",
        "form": form,
        "rule": instance,
        "preview": preview,
        "value_options": _value_options(),
    }
    return render(request, "allocation/rule_form.html", context)


@dashboard_view
def rule_new(request):
    return _save_rule(request)


@dashboard_view
def rule_edit(request, pk: int):
    return _save_rule(request, get_object_or_404(AllocationRule, pk=pk))


@dashboard_view
@require_POST
def rule_delete(request, pk: int):
    _require_finance(request)
    rule = get_object_or_404(AllocationRule, pk=pk)
    label = str(rule)
    rule.delete()
    messages.success(request, f"Rule {label} deleted; the allocation is being recomputed.")
    return redirect("allocation")


def _save_pool(request, instance=None):
    _require_finance(request)
    form = SharedCostForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        pool = form.save()
        messages.success(request, f"Shared cost “{pool.name}” saved.")
        return redirect("allocation")
    return render(
        request,
        "allocation/shared_form.html",
        {"page": "allocation", "form": form, "pool": instance},
    )


@dashboard_view
def shared_new(request):
    return _save_pool(request)


@dashboard_view
def shared_edit(request, pk: int):
    return _save_pool(request, get_object_or_404(SharedCost, pk=pk))


@dashboard_view
@require_POST
def recompute(request):
    _require_finance(request)
    schedule_recompute(data_range())
    messages.success(request, "The allocation of all days is being recomputed.")
    return redirect("allocation")


@dashboard_view
def chargeback(request):
    today = datetime.now(UTC).date()
    try:
        month = cb.parse_month(request.GET.get("month"), default=cb.previous_month(today))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    fmt = request.GET.get("format", "html")
    if fmt == "focus":
        response = StreamingHttpResponse(cb.focus_csv(month), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="focus-{month:%Y-%m}.csv"'
        return response
    report = cb.chargeback(month)
    if fmt == "csv":
        response = HttpResponse(cb.chargeback_csv(report), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="chargeback-{month:%Y-%m}.csv"'
        return response
    if fmt != "html":
        return HttpResponse(
            "format: expected html, csv or focus", status=400, content_type="text/plain"
        )
    context = {
        "page": "allocation",
        "report": report,
        "previous": f"{cb.previous_month(month):%Y-%m}",
        "next": f"{cb.month_end(month) + timedelta(days=1):%Y-%m}",
    }
    return render(request, "allocation/chargeback.html", context)
