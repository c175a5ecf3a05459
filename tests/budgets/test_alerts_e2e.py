"""End to end: real Celery workers, the fake provider over HTTP, a real SMTP server on loopback.

The fake organisation has a runaway-loop spike; after syncing it, a budget sized so the
period's spend sits at 90% receives exactly one message (the 80% crossing; 50% is claimed
with it), with the spend equal to the provider's billed truth, also when two evaluators race
and when the mail server refuses the first attempt.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import defaultdict
from datetime import date
from decimal import Decimal
from email import message_from_bytes
from email.message import Message
from io import StringIO

import pytest
from aiosmtpd.controller import Controller
from django.core.management import call_command
from django.utils import timezone

from spendapp.budgets.models import AlertEvent, Budget, DeliveryAttempt, Notification
from spendapp.core import money
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.calendar import period_containing
from spendapp.usage.models import SyncRun
from tests.e2e.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAYS = 30
SYNC = "spendapp.usage.tasks.sync_account"
EVALUATE = "spendapp.budgets.tasks.evaluate_budgets"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SMTP_PORT = _free_port()


class Inbox:
    """aiosmtpd handler: keeps every accepted message; can refuse the first DATA."""

    def __init__(self, refuse_first: int = 0):
        self.refuse = refuse_first
        self.refused = 0
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.refused < self.refuse:
                self.refused += 1
                return "451 4.3.0 Mail server busy, try again later"
            message = message_from_bytes(envelope.content)
            message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(message)
        return "250 OK"


def _serve(handler: Inbox):
    controller = Controller(handler, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    return controller


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = _serve(handler)
    yield handler
    controller.stop()


@pytest.fixture
def busy_inbox():
    """Answers the first message with 451 (temporary failure), then accepts."""
    handler = Inbox(refuse_first=1)
    controller = _serve(handler)
    yield handler
    controller.stop()


SMTP_ENV = {"EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(SMTP_PORT), "EMAIL_USE_TLS": "0"}


def _sync(workers, fake) -> None:
    call_command("demo", fake_url=fake.url, backfill_days=DAYS, stdout=StringIO())
    accounts = list(ProviderAccount.objects.all())
    for account in accounts:
        workers.call(SYNC, account.pk, "test")
    wait_for(
        lambda: SyncRun.objects.filter(outcome="success").count() >= len(accounts),
        timeout=300,
        what="the syncs",
        on_timeout=workers.logs,
    )


def _truth_in(fake, period) -> tuple[Decimal, date]:
    """Billed truth of the period so far, and the spike day (the biggest day of the data)."""
    per_day: dict[str, Decimal] = defaultdict(Decimal)
    for row in fake.truth():
        per_day[row["date"]] += Decimal(row["billed_cost"] or 0)
    total = sum(
        (v for d, v in per_day.items() if period.start <= date.fromisoformat(d) <= period.end),
        Decimal(0),
    )
    weekdays = [d for d in per_day if date.fromisoformat(d).weekday() < 5]
    spike = max(weekdays, key=lambda d: per_day[d])
    return total, date.fromisoformat(spike)


def _budget_at_90_percent(fake, recipients) -> tuple[Budget, Decimal]:
    today = timezone.now().date()
    for kind in ("month", "quarter", "year"):
        period = period_containing(kind)
        total, spike = _truth_in(fake, period)
        if period.start <= spike <= today:
            break
    else:
        pytest.skip("the fake's spike falls before the start of this year")
    budget = Budget.objects.create(
        name="Company AI",
        period=kind,
        amount=(total / Decimal("0.9")).quantize(Decimal("0.01")),
        forecast_alert=False,
        anomaly_alert=False,
        extra_emails=", ".join(recipients),
    )
    return budget, total


def _wait_for_mail(inbox, workers, count: int) -> None:
    wait_for(
        lambda: (
            len(inbox.messages) >= count
            and not Notification.objects.exclude(status="sent").exists()
        ),
        timeout=120,
        what=f"{count} message(s)",
        on_timeout=lambda: (
            workers.logs() + str(list(Notification.objects.values("status", "error")))
        ),
    )


def _assert_one_crossing_message(inbox, budget, total) -> None:
    assert len(inbox.messages) == 1, [m["Subject"] for m in inbox.messages]
    message = inbox.messages[0]
    assert message["X-Envelope-To"] == "finance@example.com"
    assert message["Subject"] == (
        f"[Spendapp] Company AI: 80% of the {budget_period_label(budget)} budget reached"
    )
    text, html = _parts(message)
    assert f"{money.exact(total)} of {money.exact(budget.amount)}" in text
    assert "(90.0%)" in text and "also past 50%" in text
    assert "What drove it" in text and "What drove it" in html
    assert "/explorer/?from=" in text and "/explorer/?from=" in html
    events = AlertEvent.objects.filter(budget=budget).order_by("threshold")
    assert [(e.threshold, e.notified) for e in events] == [(50, False), (80, True)]
    assert events[1].spend.quantize(Decimal("0.01")) == total.quantize(Decimal("0.01"))


def budget_period_label(budget) -> str:
    return period_containing(budget.period).label


def _parts(message: Message) -> tuple[str, str]:
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    return parts["text/plain"], parts["text/html"]


@pytest.mark.worker_env(**SMTP_ENV)
def test_after_the_spike_one_message_per_crossing_with_the_right_numbers(workers, inbox):
    with FakeProviderServer(seed=21, days=DAYS) as fake:
        workers.start()
        _sync(workers, fake)
        budget, total = _budget_at_90_percent(fake, ["finance@example.com"])
        workers.call(EVALUATE)
        _wait_for_mail(inbox, workers, 1)
        # Evaluations after more syncs find the crossings already claimed.
        workers.call(EVALUATE)
        workers.call(EVALUATE)
        wait_for(
            lambda: Budget.objects.filter(pk=budget.pk, evaluated_at__isnull=False).exists(),
            timeout=60,
            what="an evaluation",
        )
        time.sleep(6)
    _assert_one_crossing_message(inbox, budget, total)


@pytest.mark.worker_env(**SMTP_ENV)
def test_two_evaluators_racing_send_one_message(workers, inbox):
    with FakeProviderServer(seed=21, days=DAYS) as fake:
        workers.start()
        workers.start()
        _sync(workers, fake)
        budget, total = _budget_at_90_percent(fake, ["finance@example.com"])
        for _ in range(4):  # queued together: both workers evaluate at the same time
            workers.call(EVALUATE)
        _wait_for_mail(inbox, workers, 1)
        time.sleep(8)
    _assert_one_crossing_message(inbox, budget, total)
    assert Notification.objects.count() == 1
    # Both workers really evaluated (each ran at least one evaluation task).
    logs = [p.read_text() for p in sorted(workers.log_dir.glob("worker-*.log"))]
    assert all("evaluate_budgets" in log and "succeeded" in log for log in logs), workers.logs()


@pytest.mark.worker_env(**SMTP_ENV)
def test_a_refused_first_attempt_is_retried_and_logged_and_sent_once(workers, busy_inbox):
    inbox = busy_inbox
    with FakeProviderServer(seed=21, days=DAYS) as fake:
        workers.start()
        _sync(workers, fake)
        budget, total = _budget_at_90_percent(fake, ["finance@example.com"])
        workers.call(EVALUATE)
        _wait_for_mail(inbox, workers, 1)
    assert inbox.refused == 1
    _assert_one_crossing_message(inbox, budget, total)
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("sent", 2)
    attempts = list(DeliveryAttempt.objects.filter(notification=notification))
    assert [a.ok for a in attempts] == [False, True]
    assert "451" in attempts[0].error
