"""One number for the month: the overview card, the budgets page, a budget's alert email, the
weekly digest, the scenarios page and ``manage.py forecast --json`` show the same current-month
projection, to the cent, because they all call `forecasting.runs.projections`."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

from django.core.management import call_command

from forecasting.runs.models import ForecastRun
from forecasting.runs.projections import month_projection
from spendapp.budgets.digest import digest_context
from spendapp.budgets.evaluate import evaluate_budget
from spendapp.budgets.models import AlertEvent, Budget, Notification
from spendapp.budgets.templatetags.budgets_extras import money
from tests.dashboard.conftest import NOW, TODAY


def _forecast_json() -> dict:
    out = io.StringIO()
    call_command("forecast", "--json", "--horizon", "30", stdout=out)
    return json.loads(out.getvalue())


def test_every_page_email_and_command_shows_the_same_month_projection(
    finance_client, spend_data, django_user_model
):
    # Before any forecast is stored, pages say so and fit nothing.
    assert not month_projection().ready
    assert finance_client.get("/").status_code == 200
    assert not ForecastRun.objects.exists()

    # A sync's hook (or the nightly run, or "Compute now") stores the day's forecast; the
    # budget's evaluation reads the same one.
    expected = month_projection(compute=True)
    assert expected.ready and expected.as_of == TODAY.replace(day=9)
    cents = f"{expected.total:,.2f}"
    finance = django_user_model.objects.create_user("fin", email="fin@example.com")
    budget = Budget.objects.create(
        name="AI spend", amount=(expected.total * Decimal("0.9")).quantize(Decimal("1"))
    )
    budget.notify_users.set([finance])
    events = evaluate_budget(budget, NOW)
    assert ForecastRun.objects.count() == 1  # the evaluation reused the stored forecast

    # The overview card (exact amount on hover), and no forecast fitted by the page views.
    overview = finance_client.get("/")
    assert overview.context["projection"].total == expected.total
    assert f'data-amount="{expected.total}"' in overview.content.decode()
    # The budgets page (the evaluation's snapshot).
    budgets = finance_client.get("/budgets/")
    assert budgets.status_code == 200
    assert money(expected.total, budget.currency) in budgets.content.decode()
    assert Budget.objects.get(pk=budget.pk).eval_projected == expected.total
    # The scenarios page names the month's projection too.
    scenarios = finance_client.get("/scenarios/")
    assert f'data-amount="{expected.total}"' in scenarios.content.decode()
    assert ForecastRun.objects.count() == 1  # page views fit nothing
    # manage.py forecast --json.
    month = _forecast_json()["month_projection"]
    assert month == {
        "month": f"{TODAY:%Y-%m}",
        "as_of": expected.as_of.isoformat(),
        "actual_to_date": str(expected.actual_to_date),
        "projected_total": str(expected.total),
        "lower_80": str(expected.lower_80),
        "upper_80": str(expected.upper_80),
    }
    # The forecast alert's email, and the digest.
    forecast_alert = next(e for e in events if e.kind == AlertEvent.Kind.FORECAST)
    assert forecast_alert.projected == expected.total
    mail = Notification.objects.get(event=forecast_alert, recipient="fin@example.com")
    assert cents in mail.body_text and cents in mail.body_html
    digest = digest_context(date(2026, 9, 7), NOW)
    assert digest["month_projected"] == expected.total


def test_probability_over_budget_is_a_percentage_of_100(finance_client, spend_data):
    month_projection(compute=True)
    budget = Budget.objects.create(name="Tight", amount=Decimal("10"))
    evaluate_budget(budget, NOW)
    html = finance_client.get("/budgets/").content.decode()
    assert Budget.objects.get(pk=budget.pk).eval_probability == 1.0
    assert ">100%<" in html and ">1%<" not in html


def test_no_projection_while_a_first_sync_is_still_back_filling(finance_client, spend_data):
    from spendapp.providers.models import ProviderAccount
    from spendapp.usage.models import SyncRun

    new = ProviderAccount(name="openai-new", provider="openai")
    new.set_key("sk-test-new-0000000000")
    new.save()
    run = SyncRun.objects.create(account=new, started_at=NOW, outcome=SyncRun.Outcome.RUNNING)
    waiting = month_projection(compute=True)
    assert not waiting.ready and "first sync of openai-new" in waiting.note
    assert not ForecastRun.objects.exists()  # nothing fitted on a partial history
    run.outcome = SyncRun.Outcome.SUCCESS
    run.save()
    assert month_projection(compute=True).ready
