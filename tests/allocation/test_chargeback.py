"""The monthly chargeback: CSV and FOCUS totals equal the rollup, the first-working-day email."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum
from django_celery_beat.models import PeriodicTask

from spendapp.allocation import tasks
from spendapp.allocation.chargeback import (
    chargeback,
    chargeback_csv,
    first_working_day,
    focus_csv,
    org_today,
)
from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import (
    AllocatedSpend,
    AllocationRule,
    ChargebackEmail,
    SharedCost,
    SharedCostShare,
)
from spendapp.usage.models import DailySpend

pytestmark = pytest.mark.django_db
AUGUST = date(2026, 8, 1)
AUGUST_END = date(2026, 8, 31)


@pytest.fixture
def allocated(synced, tree):
    """The fake organisation with key, project, model and shared-cost rules, allocated."""
    openai, anthropic = synced["openai"], synced["anthropic"]
    keys = [
        r["api_key_id"]
        for r in DailySpend.objects.filter(account=openai)
        .values("api_key_id")
        .annotate(e=Sum("estimated_cost"))
        .order_by("-e")[:3]
    ]
    pool = SharedCost.objects.create(name="Platform", method="fixed")
    SharedCostShare.objects.create(shared_cost=pool, team=tree["search"], percent=Decimal(70))
    SharedCostShare.objects.create(shared_cost=pool, team=tree["sales"], percent=Decimal(30))
    rules = [
        AllocationRule(dimension="api_key", value=keys[0], team=tree["search"]),
        AllocationRule(dimension="api_key", value=keys[1], team=tree["chat"]),
        AllocationRule(dimension="api_key", value=keys[2], shared_cost=pool),
        AllocationRule(dimension="model", value="claude-opus-4-7", team=tree["eng"], priority=50),
        AllocationRule(dimension="project", value="default", account=anthropic, team=tree["acme"]),
    ]
    for rule in rules:
        rule.valid_from = date(2026, 1, 1)
        rule.full_clean()
        rule.save()
    recompute_allocation(date(2026, 7, 1), date(2026, 9, 30))
    return tree


def _month_totals(model, first=AUGUST, last=AUGUST_END) -> dict:
    return model.objects.filter(day__gte=first, day__lte=last).aggregate(
        est=Sum("estimated_cost"),
        billed=Sum("billed_cost"),
        spend=Sum("spend"),
        output=Sum("output_tokens"),
        requests=Sum("requests"),
    )


def test_the_csv_sections_each_add_up_to_the_rollup(allocated):
    truth = _month_totals(DailySpend)
    assert _month_totals(AllocatedSpend) == truth
    rows = list(csv.DictReader(io.StringIO(chargeback_csv(chargeback(AUGUST)))))
    for level in ("team", "cost_centre", "total"):
        lines = [r for r in rows if r["level"] == level]
        assert sum(Decimal(r["estimated_cost"]) for r in lines) == truth["est"], level
        assert sum(Decimal(r["billed_cost"] or 0) for r in lines) == truth["billed"], level
        assert sum(int(r["output_tokens"]) for r in lines) == truth["output"], level
        assert sum(int(r["requests"]) for r in lines) == truth["requests"], level
    teams = {r["name"]: r for r in rows if r["level"] == "team"}
    assert {"Search", "Chat", "Sales", "Engineering", "Acme", "Unallocated"} <= set(teams)
    assert teams["Search"]["cost_centre"] == "Engineering" and teams["Search"]["code"] == "T-SEARCH"
    assert teams["Engineering"]["top_models"].startswith("claude-opus-4-7")
    # July is only partly in the fake's data: August's change is there and is a number.
    assert teams["Search"]["prev_estimated_cost"] and teams["Search"]["estimated_change_pct"]
    centres = {r["name"] for r in rows if r["level"] == "cost_centre"}
    assert centres == {"Engineering", "No cost centre", "Unallocated"}


def test_the_focus_export_adds_up_to_the_rollup_and_tags_the_team(allocated):
    truth = _month_totals(DailySpend)
    rows = list(csv.DictReader(io.StringIO("".join(focus_csv(AUGUST)))))
    assert sum(Decimal(r["BilledCost"]) for r in rows) == truth["billed"]
    assert sum(Decimal(r["EffectiveCost"]) for r in rows) == truth["est"]
    tokens = AllocatedSpend.objects.filter(day__gte=AUGUST, day__lte=AUGUST_END).aggregate(
        t=Sum("input_uncached_tokens")
        + Sum("input_cached_tokens")
        + Sum("cache_write_tokens")
        + Sum("cache_write_1h_tokens")
        + Sum("output_tokens")
    )["t"]
    assert sum(int(r["ConsumedQuantity"]) for r in rows) == tokens
    first = rows[0]
    assert first["ChargePeriodStart"] == "2026-08-01T00:00:00Z"
    assert first["ChargePeriodEnd"] == "2026-08-02T00:00:00Z"
    assert first["BillingPeriodEnd"] == "2026-09-01T00:00:00Z"
    assert first["BillingCurrency"] == "USD" and first["ServiceName"].endswith("API")
    tags = [json.loads(r["Tags"]) for r in rows]
    search = [t for t in tags if t["team"] == "Search"]
    assert search and all(
        t["cost_centre"] == "Engineering" and t["team_code"] == "T-SEARCH" for t in search
    )
    assert any(t.get("shared_cost") == "Platform" for t in tags)
    assert any(t["team"] == "Unallocated" for t in tags)
    # One team's export is its subtree's share of the month.
    eng = allocated["eng"].pk
    subtree = list(csv.DictReader(io.StringIO("".join(focus_csv(AUGUST, team_id=eng)))))
    expected = AllocatedSpend.objects.filter(
        day__gte=AUGUST, day__lte=AUGUST_END, cost_centre_id=eng
    ).aggregate(s=Sum("estimated_cost"))["s"]
    assert sum(Decimal(r["EffectiveCost"]) for r in subtree) == expected


def test_first_working_day_of_the_month():
    assert first_working_day(2026, 8) == date(2026, 8, 3)  # the 1st is a Saturday
    assert first_working_day(2026, 9) == date(2026, 9, 1)  # a Tuesday
    assert first_working_day(
        2026,
        11,
    ) == date(2026, 11, 2)  # the 1st is a Sunday


def test_org_today_follows_the_org_time_zone(settings):
    from datetime import UTC, datetime

    settings.ORG_TIME_ZONE = "Pacific/Auckland"
    assert org_today(datetime(2026, 8, 31, 13, tzinfo=UTC)) == date(2026, 9, 1)


def test_the_monthly_email_goes_to_each_owner_once_on_the_first_working_day(
    allocated, mailoutbox, monkeypatch
):
    monkeypatch.setattr(tasks.send_chargeback_email, "delay", tasks.send_chargeback_email)
    assert tasks.send_monthly_chargeback("2026-09-02") == []  # the 1st was the working day
    queued = tasks.send_monthly_chargeback("2026-09-01")
    owners = {allocated["search"].pk, allocated["chat"].pk}
    assert set(queued) == owners
    assert sorted(m.to[0] for m in mailoutbox) == ["chat@example.com", "search@example.com"]
    search_mail = next(m for m in mailoutbox if m.to == ["search@example.com"])
    assert "August 2026" in search_mail.subject
    _name, content, mimetype = search_mail.attachments[0]
    assert mimetype == "text/csv" and "Search" in content
    assert "/allocation/chargeback/?month=2026-08" in search_mail.body
    # Amounts in the organisation's currency, the top models' too.
    amount = r"\$[\d,]+\.\d\d"
    assert re.search(rf"Search: spend {amount} \(billed ({amount}|\u2013)\)", search_mail.body)
    assert re.search(rf"top models: [^\n]* {amount}", search_mail.body), search_mail.body
    # A second run (a retry, a second beat) sends nothing more.
    assert tasks.send_monthly_chargeback("2026-09-01") == []
    assert tasks.send_chargeback_email(allocated["search"].pk, "2026-08-01") is False
    assert len(mailoutbox) == 2 and ChargebackEmail.objects.count() == 2


def test_a_failed_send_is_not_logged_so_the_retry_sends_it(tree, mailoutbox, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    def refuse(self, fail_silently=False):
        raise OSError("connection refused")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    with pytest.raises(OSError):
        tasks.send_chargeback_email.run(tree["search"].pk, "2026-08-01")
    assert not ChargebackEmail.objects.exists()
    monkeypatch.undo()
    assert tasks.send_chargeback_email.run(tree["search"].pk, "2026-08-01") is True
    assert len(mailoutbox) == 1


def test_the_schedule_is_a_beat_row(db):
    task = PeriodicTask.objects.get(name="Monthly chargeback emails")
    assert task.task == "spendapp.allocation.tasks.send_monthly_chargeback"
    assert task.crontab.day_of_month == "1-7" and task.crontab.hour == "7"


def test_the_report_shows_one_change_on_spend(finance_client, allocated):
    from spendapp.allocation.chargeback import chargeback

    report = chargeback(AUGUST)
    assert report.total.spend == _month_totals(DailySpend)["spend"]
    for line in report.teams:
        if line.prev_spend:
            change = (line.spend - line.prev_spend) / line.prev_spend * 100
            assert line.spend_change == change.quantize(Decimal("0.1"))
    html = finance_client.get(f"/allocation/chargeback/?month={AUGUST:%Y-%m}").content.decode()
    assert "Change (billed)" not in html and "Change (estimated)" not in html
    assert "on spend" in html
