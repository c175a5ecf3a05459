"""Budget evaluation: thresholds, forecast and anomaly alerts, each claimed exactly once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from spendapp.budgets.evaluate import evaluate_all, evaluate_budget, outlook
from spendapp.budgets.models import AlertEvent, Budget, Notification

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 6, 20, 12, tzinfo=UTC)  # June 1..19 complete, the 20th partial
JUNE = date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


def _history(spend, cost="10", **kw):
    """Four months of a flat 10 per day before June."""
    spend.daily(date(2026, 2, 1), date(2026, 5, 31), cost, **kw)


def _kinds(events):
    return sorted((e.kind, e.threshold, e.notified) for e in events)


def test_spend_so_far_is_the_bill_on_billed_days_else_the_estimate(spend, make_budget):
    spend.add(JUNE, "5", billed="7")  # billed wins over its own estimate
    # On a day the account is billed, a group without a billed line adds nothing: its tokens
    # are in the account's bill (under another name), its estimate would count them twice.
    spend.add(JUNE, "3", project="proj_b")
    # Anthropic-style: billed per workspace and model (key ""), estimates per key.
    spend.add(JUNE, "4", model="claude", key="k1")
    spend.add(JUNE, "4", model="claude", key="k2")
    spend.add(JUNE, None, billed="9", model="claude", key="")
    # A day not billed yet counts every group's estimate.
    spend.add(JUNE + timedelta(days=1), "3", project="proj_b")
    spend.add(JUNE + timedelta(days=1), "2")
    budget = make_budget(amount=Decimal("100"))
    assert outlook(budget, NOW).spend == Decimal("7") + Decimal("9") + Decimal("3") + Decimal("2")


def test_scopes_filter_the_spend(spend, make_budget):
    spend.add(JUNE, "10", project="proj_a", key="key_1")
    spend.add(JUNE, "20", project="proj_b", key="key_2")
    assert outlook(make_budget(scope="project", scope_value="proj_b"), NOW).spend == 20
    assert outlook(make_budget(scope="api_key", scope_value="key_1"), NOW).spend == 10
    assert outlook(make_budget(scope="provider", scope_value="openai"), NOW).spend == 30
    assert outlook(make_budget(scope="provider", scope_value="anthropic"), NOW).spend == 0


def test_each_threshold_fires_once_and_only_the_highest_new_one_is_sent(
    spend, make_budget, bob, django_capture_on_commit_callbacks
):
    _history(spend)
    spend.daily(JUNE, date(2026, 6, 20), "30")  # 600 in June
    budget = make_budget(amount=Decimal("1000"), users=[bob], forecast_alert=False)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("threshold", 50, True)]
    assert len(queued) == 1  # one on_commit that queues the notifications
    # Evaluating again changes nothing: the unique key already holds the claims.
    assert evaluate_budget(budget, NOW) == []
    # A spike later in the month crosses 80 and 100 at once: one message, for 100%.
    spend.add(date(2026, 6, 20), "500", project="proj_spike")
    events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("threshold", 80, False), ("threshold", 100, True)]
    top = next(e for e in events if e.notified)
    assert top.details["also_crossed"] == [80]
    assert top.spend == Decimal("1100")
    message = Notification.objects.get(event=top)
    assert message.recipient == "bob@example.com"
    assert "100% of the June 2026 budget reached" in message.subject
    assert "$1,100.00 of $1,000.00 (110.0%)" in message.body_text
    assert "also past 80%" in message.body_text
    assert "proj_spike" in message.body_text and "proj_spike" in message.body_html
    assert "/explorer/?from=2026-06-01&to=2026-06-30" in message.body_text


def test_a_budget_created_mid_period_starts_from_what_was_already_spent(spend, make_budget, bob):
    _history(spend)
    spend.daily(JUNE, date(2026, 6, 20), "45")  # 900 spent before the budget exists
    budget = make_budget(
        amount=Decimal("1000"), users=[bob], forecast_alert=False, anomaly_alert=False
    )
    events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("threshold", 50, False), ("threshold", 80, True)]
    assert Notification.objects.filter(event__budget=budget).count() == 1
    assert outlook(budget, NOW).spend == Decimal("900")


def test_a_new_period_starts_again(spend, make_budget, bob):
    _history(spend, cost="40")
    budget = make_budget(
        amount=Decimal("1000"), users=[bob], forecast_alert=False, anomaly_alert=False
    )
    with time_machine.travel(datetime(2026, 5, 31, 12, tzinfo=UTC), tick=False):
        may = evaluate_budget(budget)
    assert {(e.period_start, e.threshold) for e in may} == {
        (date(2026, 5, 1), 50),
        (date(2026, 5, 1), 80),
        (date(2026, 5, 1), 100),
    }
    spend.daily(JUNE, date(2026, 6, 20), "40")  # 800 in June
    june = evaluate_budget(budget, NOW)
    assert {(e.period_start, e.threshold) for e in june} == {(JUNE, 50), (JUNE, 80)}


def test_the_forecast_alert_fires_when_the_period_will_probably_end_over_budget(
    spend, make_budget, bob
):
    spend.daily(date(2026, 2, 1), date(2026, 6, 20), "40")  # ~1200 by the end of June
    budget = make_budget(
        amount=Decimal("1000"),
        users=[bob],
        thresholds=[100],
        anomaly_alert=False,
        forecast_probability=80,
    )
    events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("forecast", 80, True)]
    event = events[0]
    assert event.probability >= 0.8
    assert event.projected == pytest.approx(Decimal("1200"), abs=Decimal("30"))
    assert event.crossing_date is not None and date(2026, 6, 21) <= event.crossing_date
    message = Notification.objects.get(event=event)
    assert "forecast to exceed" in message.subject
    budget.refresh_from_db()
    assert budget.eval_projected == event.projected and budget.eval_spend == Decimal("800")
    assert evaluate_budget(budget, NOW) == []


def test_no_forecast_alert_when_the_projection_stays_under_budget(spend, make_budget):
    spend.daily(date(2026, 2, 1), date(2026, 6, 20), "20")  # ~600 by the end of June
    budget = make_budget(amount=Decimal("1000"), thresholds=[100], anomaly_alert=False)
    assert evaluate_budget(budget, NOW) == []
    budget.refresh_from_db()
    assert budget.eval_probability == 0.0


def test_a_day_above_the_forecasts_upper_bound_is_an_anomaly(spend, make_budget, bob):
    spend.daily(date(2026, 2, 1), date(2026, 6, 18), "10")
    spend.add(date(2026, 6, 19), "80", model="gpt-runaway")
    budget = make_budget(amount=Decimal("100000"), users=[bob], forecast_alert=False)
    events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("anomaly", 0, True)]
    event = events[0]
    assert event.period_start == date(2026, 6, 19)
    assert event.details["anomaly"]["method"] == "forecast"
    assert Decimal(event.details["anomaly"]["bound"]) < 80
    message = Notification.objects.get(event=event)
    assert "unusual spend on 2026-06-19" in message.subject
    assert "gpt-runaway" in message.body_text
    assert "from=2026-06-19&to=2026-06-19" in message.body_text


def test_without_a_forecast_a_robust_z_score_finds_the_unusual_day(spend, make_budget, monkeypatch):
    from spendapp.budgets import evaluate

    monkeypatch.setattr(evaluate, "fit_forecast", lambda *a: (None, "no forecast: test"))
    for offset in range(1, 30):  # noisy but steady: 9, 10, 11, 9, 10, 11 ...
        spend.add(date(2026, 6, 19) - timedelta(days=offset), str(9 + offset % 3))
    spend.add(date(2026, 6, 19), "16")  # z = 0.6745 * 6 / 1
    budget = make_budget(amount=Decimal("100000"), anomaly_z=Decimal("3.5"))
    events = evaluate_budget(budget, NOW)
    assert _kinds(events) == [("anomaly", 0, True)]
    assert events[0].details["anomaly"]["method"] == "zscore"
    assert float(events[0].details["anomaly"]["z"]) > 3.5


def test_a_normal_day_is_no_anomaly(spend, make_budget):
    spend.daily(date(2026, 2, 1), date(2026, 6, 20), "10")
    assert evaluate_budget(make_budget(amount=Decimal("100000")), NOW) == []


def test_muted_users_get_nothing_others_still_do(spend, make_budget, bob, alice, erin):
    from django.contrib.auth.models import Group

    _history(spend)
    spend.daily(JUNE, date(2026, 6, 20), "30")
    budget = make_budget(
        users=[bob, alice],
        forecast_alert=False,
        anomaly_alert=False,
        extra_emails="ops@example.com, BOB@example.com",
    )
    budget.notify_groups.add(Group.objects.get(name="Engineering"))
    budget.muted_by.add(bob)
    budget.muted_by.add(erin)
    evaluate_budget(budget, NOW)
    recipients = set(Notification.objects.values_list("recipient", flat=True))
    assert recipients == {"alice@example.com", "ops@example.com"}


def test_the_webhook_gets_its_own_logged_notification(spend, make_budget):
    import json

    _history(spend)
    spend.daily(JUNE, date(2026, 6, 20), "30")
    budget = make_budget(
        forecast_alert=False,
        anomaly_alert=False,
        webhook_url="https://hooks.example.com/x",
        webhook_format="json",
    )
    evaluate_budget(budget, NOW)
    hook = Notification.objects.get(channel="webhook")
    payload = json.loads(hook.body_text)
    assert payload["kind"] == "threshold" and payload["threshold"] == 50
    assert payload["spend"] == "600.00" and payload["amount"] == "1000.00"
    assert payload["text"].startswith("[Spendapp]")


def test_inactive_budgets_are_not_evaluated_and_one_failure_does_not_stop_others(
    spend, make_budget, monkeypatch
):
    _history(spend)
    spend.daily(JUNE, date(2026, 6, 20), "30")
    make_budget(name="off", active=False)
    ok = make_budget(name="ok", forecast_alert=False, anomaly_alert=False)
    broken = make_budget(name="broken", scope="tier", scope_value="small")
    from spendapp.usage import tiers

    def broken_book():
        raise RuntimeError("tier prices unavailable")

    monkeypatch.setattr(tiers, "TierBook", broken_book)
    events = evaluate_all(NOW)
    assert {e.budget_id for e in events} == {ok.pk}
    assert not AlertEvent.objects.filter(budget=broken).exists()


def test_the_database_refuses_a_second_claim(make_budget):
    from django.db import IntegrityError, transaction

    budget = make_budget()
    AlertEvent.objects.create(budget=budget, kind="threshold", period_start=JUNE, threshold=50)
    with pytest.raises(IntegrityError), transaction.atomic():
        AlertEvent.objects.create(budget=budget, kind="threshold", period_start=JUNE, threshold=50)


def test_a_team_budget_counts_the_teams_allocated_share(spend, make_budget):
    from spendapp.allocation.engine import recompute_allocation
    from spendapp.allocation.models import AllocationRule, Team

    spend.add(JUNE, "10", project="proj_a", key="key_1")
    spend.add(JUNE, "20", project="proj_b", key="key_2")
    company = Team.objects.create(name="Acme", kind="company")
    search = Team.objects.create(name="Search", kind="team", parent=company, code="SRCH")
    AllocationRule.objects.create(
        dimension="api_key", value="key_2", team=search, priority=10, valid_from=JUNE
    )
    recompute_allocation(JUNE, JUNE)
    by_code = make_budget(scope="team", scope_value="srch")
    by_code.full_clean()  # the form resolves a name or code to the team's id
    assert by_code.scope_value == str(search.pk)
    by_code.save()
    assert outlook(by_code, NOW).spend == 20
    # A cost centre counts everything below it.
    assert outlook(make_budget(scope="team", scope_value=str(company.pk)), NOW).spend == 20


def test_an_unknown_team_is_a_clear_error(make_budget):
    from django.core.exceptions import ValidationError

    budget = Budget(name="x", amount=Decimal("5"), scope="team", scope_value="Nobody")
    with pytest.raises(ValidationError, match="Unknown team 'Nobody'"):
        budget.full_clean()
