"""Allocation in the rollup: exact sums, effective dates, priorities, shared-cost splits,
overlap validation, the preview, and the recompute scheduling."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from spendapp.allocation.engine import (
    preview_rule,
    recompute_allocation,
    recompute_allocation_for_window,
)
from spendapp.allocation.forms import RuleForm
from spendapp.allocation.models import AllocatedSpend, AllocationRule, SharedCost, SharedCostShare
from spendapp.allocation.queries import spend_by_team, team_spend, top_unallocated
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import DailySpend

pytestmark = pytest.mark.django_db
START = date(2000, 1, 1)
MEASURES = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "requests",
    "unpriced_tokens",
    "estimated_cost",
    "billed_cost",
)


def _rule(dimension, value="", *, team=None, shared=None, account=None, priority=100, **dates):
    rule = AllocationRule(
        dimension=dimension,
        value=value,
        team=team,
        shared_cost=shared,
        account=account,
        priority=priority,
        valid_from=dates.get("valid_from", START),
        valid_until=dates.get("valid_until"),
    )
    rule.full_clean()
    rule.save()
    return rule


def _per_day(model, **filters) -> dict:
    rows = model.objects.filter(**filters).values("day").annotate(**{m: Sum(m) for m in MEASURES})
    return {r["day"]: tuple(r[m] for m in MEASURES) for r in rows}


def _top(account, column, *, n=2, **filters):
    """The n biggest values of a DailySpend column (by estimated cost) of an account."""
    return [
        r[column]
        for r in DailySpend.objects.filter(account=account, **filters)
        .exclude(**{column: ""})
        .values(column)
        .annotate(e=Sum("estimated_cost"))
        .order_by("-e")[:n]
    ]


def _snapshot():
    return sorted(
        AllocatedSpend.objects.values_list(
            "day",
            "account_id",
            "project_id",
            "model",
            "api_key_id",
            "user_id",
            "team_id",
            "shared_cost_id",
            *MEASURES,
        )
    )


def test_the_fake_organisation_allocates_back_to_its_total_exactly_every_day(synced, tree):
    openai, anthropic = synced["openai"], synced["anthropic"]
    key_a, key_b = _top(openai, "api_key_id")
    platform = _top(openai, "project_id", n=3)[2]
    workspace = _top(anthropic, "project_id", project_id__startswith="wrkspc")[0]
    _rule("api_key", key_a, team=tree["search"])
    _rule("api_key", key_b, team=tree["chat"], account=openai)
    _rule("project", workspace, team=tree["sales"], priority=50)
    _rule("model", "claude-haiku-4-5", team=tree["eng"], priority=150)
    _rule(
        "account", account=anthropic, team=tree["chat"], priority=300, valid_from=date(2026, 8, 15)
    )
    split = SharedCost.objects.create(name="Platform", method="proportional")
    for team in ("search", "chat", "sales"):
        SharedCostShare.objects.create(shared_cost=split, team=tree[team])
    _rule("project", platform, shared=split, priority=10)

    first, last = (
        DailySpend.objects.order_by("day").first().day,
        DailySpend.objects.latest("day").day,
    )
    written = recompute_allocation(first, last)
    assert written >= DailySpend.objects.count()

    total = _per_day(DailySpend)
    assert _per_day(AllocatedSpend) == total  # every measure, every day, every decimal
    allocated = _per_day(AllocatedSpend, team__isnull=False)
    unallocated = _per_day(AllocatedSpend, team__isnull=True)
    assert allocated and unallocated, "the organisation has both allocated and unallocated spend"
    for day, sums in total.items():
        both = [allocated.get(day), unallocated.get(day)]
        est = sum((s[7] or 0) for s in both if s)
        assert est == (sums[7] or 0), day
    # Every account has an account-level unallocated row somewhere before the account rule.
    assert AllocatedSpend.objects.filter(
        team__isnull=True, account=anthropic, day__lt=date(2026, 8, 15)
    ).exists()
    assert not AllocatedSpend.objects.filter(
        team__isnull=True, account=anthropic, day__gte=date(2026, 8, 15)
    ).exists()

    before = _snapshot()
    assert recompute_allocation(first, last) == written  # idempotent: same rows again
    assert _snapshot() == before


def test_a_key_that_changes_hands_moves_exactly_its_spend_from_the_effective_date(synced, tree):
    openai = synced["openai"]
    key = _top(openai, "api_key_id", n=1)[0]
    switch = date(2026, 8, 20)
    old = _rule("api_key", key, team=tree["search"], valid_until=switch)
    _rule("api_key", key, team=tree["chat"], valid_from=switch)
    recompute_allocation(date(2026, 7, 1), date(2026, 9, 30))

    def key_spend(**days):
        return DailySpend.objects.filter(api_key_id=key, **days).aggregate(s=Sum("estimated_cost"))[
            "s"
        ]

    end = date(2026, 9, 30)
    assert team_spend(tree["search"].pk, START, end) == key_spend(day__lt=switch)
    assert team_spend(tree["chat"].pk, START, end) == key_spend(day__gte=switch)
    # The department sees both through its subtree.
    assert team_spend(tree["eng"].pk, START, end) == key_spend()

    # Moving the hand-over five days later moves exactly those five days of that key.
    later = switch + timedelta(days=5)
    AllocationRule.objects.filter(valid_from=switch).update(valid_from=later)
    old.valid_until = later
    old.full_clean()
    old.save()
    recompute_allocation(date(2026, 7, 1), end)
    assert team_spend(tree["search"].pk, START, end) == key_spend(day__lt=later)
    assert team_spend(tree["chat"].pk, START, end) == key_spend(day__gte=later)
    moved = key_spend(day__gte=switch, day__lt=later)
    assert moved > 0


def _spend(account, day, **values):
    defaults = {"provider": account.provider, "estimated_cost": Decimal(0)}
    return DailySpend.objects.create(day=day, account=account, **{**defaults, **values})


@pytest.fixture
def account(db):
    account = ProviderAccount(name="acme", provider="openai")
    account.set_key("sk-admin-test-0000")
    account.save()
    return account


D1 = date(2026, 5, 4)


def test_the_lowest_priority_number_wins_and_the_rest_stays_with_the_project(account, tree):
    _spend(account, D1, project_id="p1", api_key_id="k1", estimated_cost=Decimal("7.5"))
    _spend(account, D1, project_id="p1", api_key_id="k2", estimated_cost=Decimal("2.25"))
    _spend(account, D1, project_id="p2", api_key_id="k3", estimated_cost=Decimal("1"))
    _rule("project", "p1", team=tree["search"], priority=100)
    _rule("api_key", "k1", team=tree["chat"], priority=50)
    recompute_allocation(D1, D1)
    by_team = {r["name"]: r["estimated_cost"] for r in spend_by_team(D1, D1)}
    assert by_team == {"Chat": Decimal("7.5"), "Search": Decimal("2.25"), "Unallocated": 1}
    by_centre = {r["name"]: r["estimated_cost"] for r in spend_by_team(D1, D1, by="cost_centre")}
    assert by_centre == {"Engineering": Decimal("9.75"), "Unallocated": 1}
    assert top_unallocated(D1, D1)[0]["api_key_id"] == "k3"


def test_fixed_percentage_splits_add_up_to_the_last_decimal(account, tree):
    pool = SharedCost.objects.create(name="Platform", method="fixed")
    for team, pct in (("search", "33.3333"), ("chat", "33.3333"), ("sales", "33.3334")):
        SharedCostShare.objects.create(shared_cost=pool, team=tree[team], percent=Decimal(pct))
    amounts = [Decimal("100"), Decimal("0.000000000001"), Decimal("12345.678901234567"), None]
    for index, amount in enumerate(amounts):
        _spend(
            account,
            D1,
            project_id="platform",
            model=f"m{index}",
            estimated_cost=amount,
            billed_cost=amount,
            output_tokens=1001 + index,
            requests=7,
        )
    _rule("project", "platform", shared=pool)
    recompute_allocation(D1, D1)

    assert _per_day(AllocatedSpend) == _per_day(DailySpend)
    for index, amount in enumerate(amounts):
        shares = AllocatedSpend.objects.filter(model=f"m{index}")
        assert shares.count() == 3 and not shares.filter(team__isnull=True).exists()
        assert shares.aggregate(s=Sum("estimated_cost"))["s"] == amount
        assert shares.aggregate(s=Sum("output_tokens"))["s"] == 1001 + index
        assert shares.aggregate(s=Sum("requests"))["s"] == 7
    sales = AllocatedSpend.objects.get(model="m0", team=tree["sales"])
    assert sales.estimated_cost == Decimal("33.3334")
    search = AllocatedSpend.objects.get(model="m2", team=tree["search"])
    assert abs(
        search.estimated_cost - Decimal("12345.678901234567") * Decimal("0.333333")
    ) < Decimal("1e-12")


def test_proportional_splits_follow_each_teams_direct_spend_that_day(account, tree):
    pool = SharedCost.objects.create(name="Platform", method="proportional")
    for team in ("search", "chat", "eng"):
        SharedCostShare.objects.create(shared_cost=pool, team=tree[team])
    D2 = D1 + timedelta(days=1)
    _spend(account, D1, api_key_id="k-search", estimated_cost=Decimal("30"))
    _spend(account, D1, api_key_id="k-chat", estimated_cost=Decimal("10"))
    _spend(
        account, D1, project_id="platform", estimated_cost=Decimal("100"), billed_cost=Decimal("1")
    )
    # Day 2: no direct spend at all: equal shares rather than dropping the pool.
    _spend(account, D2, project_id="platform", estimated_cost=Decimal("10"))
    _rule("api_key", "k-search", team=tree["search"])
    _rule("api_key", "k-chat", team=tree["chat"])
    _rule("project", "platform", shared=pool)
    recompute_allocation(D1, D2)

    def share(team, day):
        return AllocatedSpend.objects.get(project_id="platform", team=tree[team], day=day)

    # Engineering's subtree (Search + Chat) spent 40 directly, Search 30, Chat 10.
    assert share("search", D1).estimated_cost == Decimal("37.5")
    assert share("chat", D1).estimated_cost == Decimal("12.5")
    assert share("eng", D1).estimated_cost == Decimal("50")
    assert sum(share(t, D1).billed_cost for t in ("search", "chat", "eng")) == 1
    assert sum(share(t, D2).estimated_cost for t in ("search", "chat", "eng")) == 10
    assert _per_day(AllocatedSpend) == _per_day(DailySpend)


def test_a_shared_pool_without_participants_stays_visible_as_unallocated(account, tree):
    pool = SharedCost.objects.create(name="Nobody", method="fixed")
    _spend(account, D1, project_id="platform", estimated_cost=Decimal("5"))
    _rule("project", "platform", shared=pool)
    recompute_allocation(D1, D1)
    row = AllocatedSpend.objects.get()
    assert row.team is None and row.shared_cost == pool and row.estimated_cost == 5


def test_overlapping_rules_of_the_same_priority_are_rejected_naming_both(account, tree):
    first = _rule(
        "api_key",
        "k1",
        team=tree["search"],
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 6, 1),
    )
    clash = AllocationRule(
        dimension="api_key",
        value="k1",
        team=tree["chat"],
        priority=100,
        valid_from=date(2026, 5, 1),
    )
    with pytest.raises(ValidationError) as error:
        clash.full_clean()
    message = " ".join(error.value.messages)
    assert f"#{first.pk}" in message and "#new" in message and "Search" in message
    assert "Chat" in message

    # Handing the key over on the day the first rule ends is fine, as is another priority.
    AllocationRule(
        dimension="api_key",
        value="k1",
        team=tree["chat"],
        priority=100,
        valid_from=date(2026, 6, 1),
    ).full_clean()
    AllocationRule(
        dimension="api_key", value="k1", team=tree["chat"], priority=90, valid_from=date(2026, 5, 1)
    ).full_clean()
    # A rule limited to another account does not meet an account-scoped one.
    other = ProviderAccount(name="other", provider="anthropic")
    other.set_key("sk-ant-admin-0000")
    other.save()
    scoped = _rule("user", "u1", team=tree["search"], account=account)
    AllocationRule(
        dimension="user", value="u1", team=tree["chat"], account=other, valid_from=START
    ).full_clean()
    with pytest.raises(ValidationError, match=f"#{scoped.pk}"):
        AllocationRule(
            dimension="user", value="u1", team=tree["chat"], valid_from=START
        ).full_clean()


def test_rules_on_different_dimensions_overlap_only_where_spend_carries_both(account, tree):
    _spend(account, D1, project_id="p1", api_key_id="k1", estimated_cost=Decimal(1))
    _spend(account, D1, project_id="p2", api_key_id="k2", estimated_cost=Decimal(1))
    project = _rule("project", "p1", team=tree["search"])
    _rule("api_key", "k2", team=tree["chat"])  # k2 is never used in p1: no overlap
    form = RuleForm(
        {
            "dimension": "api_key",
            "value": "k1",
            "team": tree["chat"].pk,
            "priority": 100,
            "valid_from": "2026-01-01",
        }
    )
    assert not form.is_valid()
    assert f"#{project.pk}" in str(form.errors) and "priority 100" in str(form.errors)


def test_the_preview_reports_what_saving_the_rule_moves(account, tree, monkeypatch):
    last = date(2026, 4, 1)
    _spend(
        account,
        last,
        api_key_id="k1",
        project_id="p1",
        estimated_cost=Decimal("4.25"),
        billed_cost=Decimal("4"),
    )
    _spend(
        account,
        last + timedelta(days=3),
        api_key_id="k1",
        project_id="p1",
        estimated_cost=Decimal("1.5"),
    )
    _spend(account, last, api_key_id="k2", project_id="p1", estimated_cost=Decimal("2"))
    _spend(account, D1, api_key_id="k1", estimated_cost=Decimal("1000"))  # not last month
    _rule("project", "p1", team=tree["sales"], priority=200)
    rule = AllocationRule(
        dimension="api_key", value="k1", team=tree["search"], priority=100, valid_from=START
    )
    preview = preview_rule(rule, last, date(2026, 4, 30))
    assert preview.estimated_cost == Decimal("5.75") and preview.billed_cost == 4
    assert [(m.from_label, m.to_label) for m in preview.movements] == [("Sales", "Search")]

    recompute_allocation(last, date(2026, 4, 30))
    before = team_spend(tree["search"].pk, last, date(2026, 4, 30))
    rule.save()
    recompute_allocation(last, date(2026, 4, 30))
    after = team_spend(tree["search"].pk, last, date(2026, 4, 30))
    assert after - before == preview.estimated_cost
    # Previewing the saved rule again: nothing left to move.
    assert preview_rule(rule, last, date(2026, 4, 30)).estimated_cost == 0


def test_rule_changes_queue_a_recompute_of_the_days_they_touch(
    account, tree, django_capture_on_commit_callbacks, eager_recompute
):
    _spend(account, date(2026, 3, 1), api_key_id="k1", estimated_cost=Decimal(3))
    _spend(account, date(2026, 3, 31), api_key_id="k1", estimated_cost=Decimal(4))
    with django_capture_on_commit_callbacks(execute=True):
        rule = _rule("api_key", "k1", team=tree["search"], valid_from=date(2026, 3, 10))
    assert eager_recompute == [("2026-03-10", "2026-03-31")]
    assert team_spend(tree["search"].pk, START, date(2026, 12, 31)) == 4

    eager_recompute.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rule.valid_from = date(2026, 1, 1)
        rule.save()
    assert eager_recompute == [("2026-03-01", "2026-03-31")]
    assert team_spend(tree["search"].pk, START, date(2026, 12, 31)) == 7

    eager_recompute.clear()
    with django_capture_on_commit_callbacks(execute=True):
        rule.delete()
    assert eager_recompute == [("2026-03-01", "2026-03-31")]
    assert team_spend(tree["search"].pk, START, date(2026, 12, 31)) == 0
    assert AllocatedSpend.objects.filter(team__isnull=True).count() == 2


def test_the_sync_hook_recomputes_the_days_of_a_window(account, tree):
    _spend(account, D1, api_key_id="k1", estimated_cost=Decimal(3))
    _spend(account, D1 + timedelta(days=1), api_key_id="k1", estimated_cost=Decimal(4))
    _rule("api_key", "k1", team=tree["search"])
    start = datetime(D1.year, D1.month, D1.day, tzinfo=UTC)
    recompute_allocation_for_window(start, start + timedelta(days=1))  # end is exclusive
    assert list(AllocatedSpend.objects.values_list("day", flat=True)) == [D1]
