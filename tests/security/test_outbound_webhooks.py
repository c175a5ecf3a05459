"""Finding 2: budget webhooks never reach loopback, private, link-local or metadata
addresses, follow no redirect and keep no response body; finding 11: data health shows a
webhook's host, never its secret path."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ValidationError

from spendapp.budgets.delivery import DeliveryError, attempt
from spendapp.budgets.hooks import recent_delivery_failures
from spendapp.budgets.models import AlertEvent, Budget, Notification
from spendapp.core.outbound import UnsafeURL, check_url

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://[::1]/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.1/hook",
        "https://172.16.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:127.0.0.1]/",
        "https://0.0.0.0/",
        "https://224.0.0.1/",
    ],
)
def test_internal_addresses_are_refused(url, settings):
    settings.DEBUG = True  # plain http allowed: the address alone is refused
    with pytest.raises(UnsafeURL, match="internal address"):
        check_url(url)


def test_plain_http_is_refused_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(UnsafeURL, match="must start with https://"):
        check_url("http://93.184.215.14/hook")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "https://user:pw@1.1.1.1/"])
def test_other_schemes_and_credentials_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url)


def test_a_public_address_is_fine():
    check_url("https://93.184.215.14/services/T000/B000/secret")


def test_an_operator_can_trust_an_internal_network(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    check_url("https://10.20.3.4/hook")
    with pytest.raises(UnsafeURL):
        check_url("https://10.21.3.4/hook")


def test_a_budget_with_a_metadata_webhook_is_refused_when_saved():
    budget = Budget(name="b", amount=100, webhook_url="https://169.254.169.254/latest/")
    with pytest.raises(ValidationError) as caught:
        budget.full_clean()
    assert "Alerts cannot be sent there" in str(caught.value.message_dict["webhook_url"])


def test_the_budget_form_shows_the_error(client, bob):
    client.force_login(bob)
    response = client.post(
        "/budgets/new/",
        {
            "name": "b",
            "scope": "org",
            "period": "month",
            "amount": "100",
            "currency": "USD",
            "thresholds": "50",
            "forecast_probability": "80",
            "anomaly_z": "3.5",
            "webhook_url": "http://127.0.0.1:9/hook",
            "webhook_format": "json",
        },
    )
    assert response.status_code == 400
    assert "Alerts cannot be sent there" in response.content.decode()
    assert not Budget.objects.exists()


class _Hook(BaseHTTPRequestHandler):
    hits: list[str] = []
    status = 302

    def do_POST(self):
        _Hook.hits.append(self.path)
        self.send_response(_Hook.status)
        self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
        body = b"<html>SECRET-INTERNAL-PAGE</html>"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hook(settings):
    settings.DEBUG = True  # a plain-http receiver on loopback, trusted for the test
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    _Hook.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/services/T0/B0/token"
    server.shutdown()


def _notification(url: str) -> Notification:
    event = AlertEvent.objects.create(kind="account_stale", episode="e")
    return Notification.objects.create(
        event=event, channel="webhook", recipient=url, subject="s", body_text="{}", attempts=1
    )


@pytest.mark.parametrize("status", [302, 500])
def test_a_redirect_is_not_followed_and_no_body_is_kept(hook, status):
    _Hook.status = status
    notification = _notification(hook)
    with pytest.raises(DeliveryError):
        attempt(notification, final=True)
    assert _Hook.hits == ["/services/T0/B0/token"]  # once, and not to the Location
    notification.refresh_from_db()
    assert notification.error.startswith(f"DeliveryError: HTTP {status} ")
    assert "SECRET-INTERNAL-PAGE" not in notification.error
    assert "SECRET" not in notification.delivery_attempts.get().error


def test_the_url_is_checked_again_at_send_time(settings, hook):
    notification = _notification(hook)
    settings.OUTBOUND_ALLOWED_NETWORKS = []  # as if DNS now pointed the host inward
    with pytest.raises(DeliveryError, match="internal address"):
        attempt(notification, final=True)
    assert _Hook.hits == []


def test_data_health_shows_the_webhook_host_but_not_its_secret_path(client, erin, hook):
    notification = _notification(hook)
    Notification.objects.filter(pk=notification.pk).update(status="failed")
    assert recent_delivery_failures()[0].recipient_shown == "http://127.0.0.1/…"
    client.force_login(erin)
    page = client.get("/data-health/").content.decode()
    assert "127.0.0.1/…" in page
    assert "/services/T0/B0/token" not in page
