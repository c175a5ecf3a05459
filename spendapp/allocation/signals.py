"""Changes to rules, pools and the team tree schedule a recompute of the days they affect;
changed spend (`spendapp.usage.signals.spend_changed`) is re-allocated at once.

Signals rather than calls in the views, so the admin, the Finance page and the shell all
trigger it. The task is queued on commit: a rolled-back edit queues nothing. Changed spend
is allocated inside the writer's transaction (a sync window, a FOCUS import), so teams'
shares never lag the rollup they split.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from spendapp.allocation.models import AllocationRule, SharedCost, SharedCostShare, Team
from spendapp.allocation.rules import affected_range, data_range
from spendapp.usage.signals import spend_changed


def schedule_recompute(span: tuple[date, date] | None) -> None:
    if span is None:
        return
    from spendapp.allocation.tasks import recompute_allocation

    first, last = span
    transaction.on_commit(lambda: recompute_allocation.delay(first.isoformat(), last.isoformat()))


def _period(rule: AllocationRule) -> tuple[date, date | None]:
    return rule.valid_from, rule.valid_until


@receiver(pre_save, sender=AllocationRule)
def _remember_old_period(sender, instance: AllocationRule, **kwargs) -> None:
    old = AllocationRule.objects.filter(pk=instance.pk).first() if instance.pk else None
    instance._old_period = _period(old) if old else None


@receiver(post_save, sender=AllocationRule)
def _rule_saved(sender, instance: AllocationRule, **kwargs) -> None:
    periods = [_period(instance)]
    if getattr(instance, "_old_period", None):
        periods.append(instance._old_period)  # spend the rule no longer covers moves back
    schedule_recompute(affected_range(*periods))


@receiver(post_delete, sender=AllocationRule)
def _rule_deleted(sender, instance: AllocationRule, **kwargs) -> None:
    schedule_recompute(affected_range(_period(instance)))


def _pool_changed(shared_cost_id: int | None) -> None:
    periods = [
        _period(rule) for rule in AllocationRule.objects.filter(shared_cost_id=shared_cost_id)
    ]
    schedule_recompute(affected_range(*periods))


@receiver(post_save, sender=SharedCost)
def _pool_saved(sender, instance: SharedCost, **kwargs) -> None:
    _pool_changed(instance.pk)


@receiver(post_save, sender=SharedCostShare)
@receiver(post_delete, sender=SharedCostShare)
def _share_changed(sender, instance: SharedCostShare, **kwargs) -> None:
    _pool_changed(instance.shared_cost_id)


@receiver(pre_save, sender=Team)
def _remember_old_place(sender, instance: Team, **kwargs) -> None:
    old = Team.objects.filter(pk=instance.pk).values("parent_id", "kind").first()
    instance._old_place = old


@receiver(post_save, sender=Team)
def _team_saved(sender, instance: Team, created: bool, **kwargs) -> None:
    # Moving a team or changing its kind changes cost centres and proportional weights of
    # every day; a rename or a new owner changes nothing in the rollup.
    old = getattr(instance, "_old_place", None)
    if old and (old["parent_id"], old["kind"]) != (instance.parent_id, instance.kind):
        schedule_recompute(data_range())


@receiver(post_delete, sender=Team)
def _team_deleted(sender, instance: Team, **kwargs) -> None:
    schedule_recompute(data_range())


@receiver(spend_changed)
def _spend_changed(sender, account_id: int, days: list[date], **kwargs) -> None:
    from spendapp.allocation.engine import recompute_allocation

    recompute_allocation(days[0], days[-1])
