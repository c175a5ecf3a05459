"""Delivery: one claim per attempt, every attempt logged, retries, and the final failure."""

from __future__ import annotations

import json
import smtplib
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from spendapp.budgets import delivery
from spendapp.budgets.hooks import recent_delivery_failures
from spendapp.budgets.models import DeliveryAttempt, Notification
from spendapp.budgets.tasks import MAX_RETRIES, send_notification

pytestmark = pytest.mark.django_db


def _notification(**kw) -> Notification:
    fields = {
        "recipient": "bob@example.com",
        "subject": "[Spendapp] Budget: 80% reached",
        "body_text": "text body",
        "body_html": "<p>html body</p>",
    }
    fields.update(kw)
    return Notification.objects.create(**fields)


class FlakySMTP:
    """Stands in for Django's SMTP connection: fails ``failures`` times, then delivers."""

    def __init__(self, failures: int):
        self.failures = failures

    def __call__(self, message):
        if self.failures:
            self.failures -= 1
            raise smtplib.SMTPDataError(451, b"4.3.0 try again later")
        return mail.EmailMessage.send(message)


@pytest.fixture
def flaky(monkeypatch):
    def install(failures: int) -> None:
        fake = FlakySMTP(failures)
        original = mail.EmailMultiAlternatives.send
        monkeypatch.setattr(
            mail.EmailMultiAlternatives,
            "send",
            lambda self, fail_silently=False: fake(self) if fake.failures else original(self),
        )

    return install


def test_an_email_is_sent_with_text_and_html_and_logged(mailoutbox):
    n = _notification()
    send_notification.apply(args=(n.pk,))
    n.refresh_from_db()
    assert (n.status, n.attempts, n.error) == ("sent", 1, "")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["bob@example.com"] and message.body == "text body"
    assert message.alternatives[0][0] == "<p>html body</p>"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    assert [a.ok for a in n.delivery_attempts.all()] == [True]


def test_a_failed_attempt_is_logged_and_retried_once_more(mailoutbox, flaky):
    flaky(1)
    n = _notification()
    send_notification.apply(args=(n.pk,))
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("sent", 2)
    attempts = list(n.delivery_attempts.all())
    assert [(a.number, a.ok) for a in attempts] == [(1, False), (2, True)]
    assert "SMTPDataError" in attempts[0].error and "451" in attempts[0].error
    assert len(mailoutbox) == 1


def test_after_the_last_retry_the_failure_shows_on_data_health(mailoutbox, flaky):
    flaky(100)
    n = _notification()
    send_notification.apply(args=(n.pk,))
    n.refresh_from_db()
    assert n.status == "failed" and n.attempts == MAX_RETRIES + 1
    assert DeliveryAttempt.objects.filter(notification=n, ok=False).count() == MAX_RETRIES + 1
    assert mailoutbox == []
    assert recent_delivery_failures() == [n]
    assert "451" in recent_delivery_failures()[0].error


def test_a_sent_or_claimed_notification_is_never_sent_again(mailoutbox):
    n = _notification()
    assert delivery.claim(n.pk) is not None
    assert delivery.claim(n.pk) is None  # a second worker (or a duplicate message) loses
    assert send_notification.apply(args=(n.pk,)).get() == "skipped"
    Notification.objects.filter(pk=n.pk).update(status="sent")
    assert send_notification.apply(args=(n.pk,)).get() == "skipped"
    assert mailoutbox == []


def test_a_notification_that_is_gone_is_skipped_quietly():
    assert send_notification.apply(args=(999999,)).get() == "skipped"


class _Hook(BaseHTTPRequestHandler):
    received: list = []
    statuses: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(json.loads(body))
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook_server():
    _Hook.received, _Hook.statuses = [], []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, _Hook
    server.shutdown()


def test_a_webhook_posts_json_and_retries_a_5xx(hook_server, settings):
    settings.DEBUG = True  # plain http to a receiver on loopback, trusted for the test
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    server, handler = hook_server
    handler.statuses = [503]
    url = f"http://127.0.0.1:{server.server_port}/hook"
    n = _notification(channel="webhook", recipient=url, body_text=json.dumps({"text": "hi"}))
    send_notification.apply(args=(n.pk,))
    n.refresh_from_db()
    assert (n.status, n.attempts) == ("sent", 2)
    assert handler.received == [{"text": "hi"}]
    assert "HTTP 503" in n.delivery_attempts.first().error
