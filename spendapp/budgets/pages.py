"""What the budgets page and the digest show per budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from spendapp.budgets.models import AlertEvent, Budget
from spendapp.budgets.spend import ScopeSpend
from spendapp.usage.calendar import Period, data_today, period_containing

WARN_SHARE = Decimal("0.8")


def budget_status(budget: Budget, spend: Decimal | None, probability: float | None) -> str:
    """ok / warn / bad, the CSS class suffix (status-ok ...)."""
    if spend is None:
        return "ok"
    if spend >= budget.amount:
        return "bad"
    forecast_says = probability is not None and probability * 100 >= budget.forecast_probability
    if spend >= budget.amount * WARN_SHARE or forecast_says:
        return "warn"
    return "ok"


@dataclass
class BudgetRow:
    budget: Budget
    period: Period
    spend: Decimal
    projected: Decimal | None
    probability: float | None
    crossing_date: date | None
    muted: bool
    history: list[AlertEvent]

    @property
    def percent(self) -> Decimal:
        return (self.spend / self.budget.amount * 100).quantize(Decimal("0.1"))

    @property
    def status(self) -> str:
        return budget_status(self.budget, self.spend, self.probability)


def budget_row(budget: Budget, muted_ids: set[int], history: int = 10) -> BudgetRow:
    """Live spend so far; the projection comes from the last evaluation of this period."""
    period = period_containing(budget.period)
    today = data_today()
    last = min(today, period.end)
    spend = ScopeSpend(budget.scope, budget.scope_value, period.start, last).total(
        period.start, last
    )
    current = budget.eval_period_start == period.start
    return BudgetRow(
        budget=budget,
        period=period,
        spend=spend,
        projected=budget.eval_projected if current else None,
        probability=budget.eval_probability if current else None,
        crossing_date=budget.eval_crossing_date if current else None,
        muted=budget.pk in muted_ids,
        history=list(budget.alerts.all())[:history],
    )


def acknowledge(alert: AlertEvent, user) -> bool:
    """Acknowledge ``alert`` for everyone as ``user`` (who `can_acknowledge` it), once: the
    budgets page and the API. The audit log records who did it. False if it already was."""
    from auditlog.models import LogEntry
    from django.utils import timezone

    now = timezone.now()
    done = AlertEvent.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=user
    )
    if done:
        LogEntry.objects.log_create(
            alert,
            action=LogEntry.Action.UPDATE,
            changes={"acknowledged_at": [None, now.isoformat()]},
            actor=user,
            force_log=True,
        )
    return bool(done)
