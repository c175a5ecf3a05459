"""The budgets page: every dashboard role sees it; Finance and staff create and edit."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from forecasting.runs.runway import runways
from spendapp.budgets.forms import BudgetForm
from spendapp.budgets.models import AlertEvent, Budget, Notification
from spendapp.budgets.pages import acknowledge, budget_row
from spendapp.budgets.validation import known_scope_values
from spendapp.core.roles import FINANCE, can_acknowledge, dashboard_view, role_required
from spendapp.usage.credit_forms import CreditEntryForm, ExchangeRateForm

budget_editor = role_required(FINANCE)

NO_RECIPIENTS = (
    "This budget has no recipients: its alerts will be listed here but nobody is emailed. "
    "Add users, a group (Finance) or addresses to be told."
)


def _get_budget(pk: int) -> Budget:
    return get_object_or_404(Budget, pk=pk)


@dashboard_view
def budget_list(request):
    # Each alert's notifications counted in the same query: "not sent: no recipients" is an
    # alert whose evaluation found nobody to tell.
    alerts = AlertEvent.objects.annotate(
        recipients=Count("notifications"),
        delivered=Count("notifications", filter=Q(notifications__status=Notification.Status.SENT)),
    ).order_by("-created_at")
    budgets = Budget.objects.prefetch_related(Prefetch("alerts", queryset=alerts))
    muted = set(request.user.muted_budgets.values_list("pk", flat=True))
    rows = [budget_row(b, muted) for b in budgets]
    context = {
        "page": "budgets",
        "rows": rows,
        "mail_note": mail_destination(),
        "runways": runways(),
        "runway_alert_days": settings.CREDIT_RUNWAY_ALERT_DAYS,
        "runway_next": "/budgets/",
    }
    return render(request, "budgets/list.html", context)


def mail_destination() -> str:
    """Where alert emails go on this install, said on the budgets pages: without an SMTP
    server (``EMAIL_HOST``) they are files under ``var/mail/``."""
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        path = Path(settings.EMAIL_FILE_PATH)
        if path.is_relative_to(settings.BASE_DIR):
            path = path.relative_to(settings.BASE_DIR)
        return f"No mail server is set (EMAIL_HOST): alert emails are written as files to {path}/."
    if settings.EMAIL_BACKEND.endswith("smtp.EmailBackend"):
        return f"Alert emails are sent through {settings.EMAIL_HOST}."
    return ""


def _edit(request, budget: Budget | None):
    form = BudgetForm(request.POST or None, instance=budget)
    if request.method == "POST" and form.is_valid():
        creating = form.instance.pk is None
        saved = form.save_for(request.user)
        messages.success(request, f"Budget “{saved.name}” {'created' if creating else 'saved'}.")
        if not form.has_recipients():
            messages.warning(request, NO_RECIPIENTS)
        return redirect("budgets")
    context = {
        "page": "budgets",
        "form": form,
        "budget": budget,
        "no_recipients": NO_RECIPIENTS,
        "mail_note": mail_destination(),
        "scope_values": sorted(
            known_scope_values("provider")
            | known_scope_values("project")
            | known_scope_values("api_key")
        ),
    }
    return render(request, "budgets/form.html", context, status=400 if form.errors else 200)


@budget_editor
def budget_create(request):
    return _edit(request, None)


@budget_editor
def budget_edit(request, pk: int):
    return _edit(request, _get_budget(pk))


@require_POST
@dashboard_view
def budget_mute(request, pk: int):
    budget = _get_budget(pk)
    if budget.muted_by.filter(pk=request.user.pk).exists():
        budget.muted_by.remove(request.user)
        messages.success(request, f"You will get alerts for “{budget.name}” again.")
    else:
        budget.muted_by.add(request.user)
        messages.success(request, f"Alerts for “{budget.name}” are muted for you.")
    return redirect("budgets")


@require_POST
@dashboard_view
def alert_acknowledge(request, pk: int):
    alert = get_object_or_404(AlertEvent, pk=pk)
    if not can_acknowledge(request.user, alert):
        raise PermissionDenied("Acknowledging hides the alert for everyone; your role cannot.")
    acknowledge(alert, request.user)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)


@require_POST
@dashboard_view
def runway_compute(request):
    """ "Compute now" for prepaid credit runways: fit and store each account's spend forecast
    of the day (a page view never fits one), then go back."""
    back = request.POST.get("next", "")
    if back not in ("/", "/budgets/"):
        back = "/budgets/"
    computed = runways(compute=True)
    failed = [f"{r.account.name}: {r.note}" for r in computed if r.note and r.balance]
    if failed:
        messages.error(request, "No runway for " + "; ".join(failed))
    else:
        messages.success(request, "Runways computed.")
    return redirect(back)


ENTRY_INTRO = (
    "A top-up or credit grant adds to the account's prepaid balance from its day on; a balance "
    "statement says what the balance was at the end of a day (spend after it is deducted). "
    "Where the provider reports its own balance (OpenRouter, DeepSeek), that one is used."
)
RATE_INTRO = (
    "Balances in another currency (DeepSeek reports CNY) are converted with the newest rate "
    "valid on their day. Spendapp never looks rates up on the network."
)


def _credit_form(request, form_class, title: str, intro: str, saved: str):
    form = form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        item = form.save(commit=False)
        item.created_by = request.user
        item.save()
        messages.success(request, saved)
        return redirect(reverse("budgets") + "#credit-runway")
    context = {"page": "budgets", "form": form, "title": title, "intro": intro}
    status = 400 if request.method == "POST" else 200  # a POST here had errors
    return render(request, "budgets/credit_form.html", context, status=status)


@budget_editor
def credit_entry_new(request):
    return _credit_form(request, CreditEntryForm, "Record prepaid credits", ENTRY_INTRO, "Saved.")


@budget_editor
def exchange_rate_new(request):
    return _credit_form(request, ExchangeRateForm, "Set an exchange rate", RATE_INTRO, "Saved.")
