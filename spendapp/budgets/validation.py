"""Budget checks shared by the Django admin and the budgets page (``Budget.clean``)."""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from spendapp.core.outbound import UnsafeURL, check_url
from spendapp.providers.models import PROVIDER_CHOICES, ProviderEntity
from spendapp.usage.models import DailySpend, ModelTier

_SPLIT = re.compile(r"[,;\s]+")
# One alert queues one message per recipient: a budget may reach at most this many addresses
# (users, group members and extra addresses together), and list at most MAX_EXTRA_EMAILS.
MAX_RECIPIENTS = 100
MAX_EXTRA_EMAILS = 50


def split_emails(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text or "") if part]


def known_scope_values(scope: str) -> set[str]:
    """Values a scope may take: what the rollup or the providers' names know."""
    if scope == "provider":
        return {code for code, _ in PROVIDER_CHOICES}
    if scope == "project":
        rows = set(DailySpend.objects.values_list("project_id", flat=True).distinct())
        names = ProviderEntity.objects.filter(kind="project").values_list("external_id", flat=True)
        return (rows | set(names)) - {""}
    if scope == "api_key":
        rows = set(DailySpend.objects.values_list("api_key_id", flat=True).distinct())
        names = ProviderEntity.objects.filter(kind="api_key").values_list("external_id", flat=True)
        return (rows | set(names)) - {""}
    return set()


def _find_team(value: str):
    from django.db.models import Q

    from spendapp.allocation.models import Team

    match = Q(name__iexact=value) | Q(code__iexact=value)
    if value.isdigit():
        match |= Q(pk=int(value))
    return Team.objects.filter(match).first()


def validate_budget(budget) -> None:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if budget.amount is not None and budget.amount <= Decimal(0):
        add("amount", "Enter an amount above zero.")
    if budget.currency and budget.currency.upper() != settings.ORG_CURRENCY:
        add(
            "currency",
            f"Budgets are in the organisation's currency, {settings.ORG_CURRENCY}; "
            f"got {budget.currency}.",
        )
    _check_scope(budget, add)
    _check_thresholds(budget.thresholds, add)
    if budget.webhook_url:
        try:
            check_url(budget.webhook_url)
        except UnsafeURL as exc:
            add("webhook_url", f"Alerts cannot be sent there: {exc}.")
    extra = split_emails(budget.extra_emails)
    if len(extra) > MAX_EXTRA_EMAILS:
        add("extra_emails", f"At most {MAX_EXTRA_EMAILS} addresses; got {len(extra)}.")
        extra = []
    for address in extra:
        try:
            validate_email(address)
        except ValidationError:
            add("extra_emails", f"{address!r} is not an email address.")
    if errors:
        raise ValidationError(errors)


def _check_scope(budget, add) -> None:
    value = (budget.scope_value or "").strip()
    budget.scope_value = value
    if budget.scope == "org":
        budget.scope_value = ""
        return
    if not value:
        add("scope_value", f"Choose which {budget.get_scope_display().lower()} this budget covers.")
        return
    if budget.scope == "team":
        team = _find_team(value)
        if team is None:
            add("scope_value", f"Unknown team {value!r}: use a team's name, code or id.")
        else:
            budget.scope_value = str(team.pk)
        return
    if budget.scope == "tier":
        if value not in ModelTier.Name.values:
            names = ", ".join(ModelTier.Name.values)
            add("scope_value", f"Unknown model tier {value!r}: use one of {names}.")
        return
    if value not in known_scope_values(budget.scope):
        add(
            "scope_value",
            f"Unknown {budget.get_scope_display().lower()} {value!r}: no synced spend or "
            "provider name has this id.",
        )


def _check_thresholds(thresholds, add) -> None:
    if not isinstance(thresholds, list) or not thresholds:
        add("thresholds", "Give at least one threshold, e.g. 50, 80, 100.")
        return
    for value in thresholds:
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            add("thresholds", f"{value!r} is not a whole percentage between 1 and 1000.")
