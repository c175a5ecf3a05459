"""Production as shipped: the compose services, run without Docker, give a working, safe site.

For each broker (the compose file's Redis, then RabbitMQ as the README allows), one deployment
is built from the lock file, the Dockerfile and a `.env` filled in from `.env.example` as the
README says, then `migrate`, `web` (the Dockerfile's gunicorn), `worker` and `beat` run as the
image's non-root user against this machine's PostgreSQL. The tests below run in order against
that deployment and read like the operator's first hour with it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from datetime import date
from decimal import Decimal
from email import message_from_bytes
from pathlib import Path

import httpx
import psutil
import pytest
from aiosmtpd.controller import Controller

from spendapp.providers.fake import FakeProviderServer
from tests.production.deployment import Deployment, build_image, free_port, production_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SECRETS = {
    "secret_key": "p" * 20 + "-production-smoke-test-secret-key-0123456789",
    "fernet_keys": "0Pq8YtH5y4B4oxTEfm0qErGd4Jd7TnWcF1XqPDtGfWk=",
    "postgres_password": "abc/def+g==#x@y",  # breaks a URL: it must never be put in one
}
DAYS = 30
FINANCE = "finance@example.com"


class Inbox:
    """A real SMTP server on loopback, keeping what it receives."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            message = message_from_bytes(envelope.content)
            message["X-Envelope-To"] = ",".join(envelope.rcpt_tos)
            self.messages.append(message)
        return "250 OK"


def wait_for(predicate, *, timeout: float, what: str, logs=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{logs()}")


def _redis_url() -> str:
    # A database of its own per run (the compose file's redis://redis:6379/0 is its own server).
    return f"redis://127.0.0.1:6379/{8 + int(time.time()) % 8}"


def _rabbitmq_url(request) -> str:
    vhost = f"spendapp-smoke-{int(time.time())}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    request.addfinalizer(
        lambda: subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
    )
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


@pytest.fixture(scope="module")
def image_folder():
    """The image, built once for both brokers (as `docker compose build` would)."""
    if os.geteuid() != 0:
        pytest.skip("runs the services as the image's user, which needs root")
    # Not under pytest's tmp (mode 700): the app user must reach the image's folders.
    root = Path(tempfile.mkdtemp(prefix="spendapp-smoke-"))
    root.chmod(0o755)
    started = time.monotonic()
    production_venv()
    print(f"production venv ready in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    app_dir = build_image(root / "app")
    print(f"image folder built in {time.monotonic() - started:.1f} s")
    yield app_dir
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module", params=["redis", "rabbitmq"])
def site(request, image_folder):
    """A deployment with migrate done and web, worker and beat running; its SMTP inbox."""
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    broker = _redis_url() if request.param == "redis" else _rabbitmq_url(request)
    root = image_folder.parent / request.param
    deployment = Deployment(
        root,
        image_folder,
        production_venv(),
        broker_url=broker,
        dotenv={
            # What the README's checklist has the operator fill in; the rest stays as shipped.
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "EMAIL_USE_TLS": "0",
        },
    )
    deployment.broker = request.param
    deployment.inbox = inbox
    try:
        deployment.build(SECRETS)
        started = time.monotonic()
        migrate = deployment.run("migrate", timeout=300)
        print(f"{request.param}: migrate took {time.monotonic() - started:.1f} s")
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        password = re.search(r"Created admin user 'admin' with password '([^']+)'", migrate.stdout)
        assert password, migrate.stdout  # shown once, in `docker compose logs migrate`
        deployment.admin_password = password[1]
        for service in ("web", "worker", "beat"):
            deployment.start(service)
        wait_for(
            lambda: deployment.healthy("web"), timeout=90, what="web", logs=deployment.all_logs
        )
        yield deployment
    finally:
        deployment.destroy()
        smtp.stop()


# --- the site -------------------------------------------------------------------------------
def test_the_login_page_and_its_static_files_are_served(site):
    page = httpx.get(f"{site.url}/accounts/login/", headers={"Host": "localhost"})
    assert page.status_code == 200, site.log("web")
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text)
    assert any(a.endswith(".css") for a in assets), assets
    for asset in assets:
        response = httpx.get(f"{site.url}{asset}", headers={"Host": "localhost"})
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"], asset  # hashed name


def test_nothing_outside_the_collected_static_tree_is_served(site):
    for path in (
        "spendapp/settings.py",
        "pyproject.toml",
        "manage.py",
        "spendapp/celery.py",
        "var/beat.heartbeat",
        "../manage.py",
        "%2e%2e/manage.py",
    ):
        response = httpx.get(f"{site.url}/static/{path}", headers={"Host": "localhost"})
        assert response.status_code == 404, path


def test_the_admin_logs_in_over_plain_http_without_a_redirect_to_https(site):
    with httpx.Client(base_url=site.url, headers={"Host": "localhost"}) as browser:
        first = browser.get("/")
        assert first.status_code == 302 and first.headers["location"].startswith("/accounts/login/")
        browser.get("/accounts/login/")
        form = {
            "username": "admin",
            "password": site.admin_password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        }
        signed_in = browser.post(
            "/accounts/login/", data=form, headers={"Referer": f"{site.url}/accounts/login/"}
        )
        assert signed_in.status_code == 302 and signed_in.headers["location"] == "/"
        assert browser.get("/").status_code == 200


# --- the worker -----------------------------------------------------------------------------
def _spend(site) -> dict[tuple, dict]:
    today = date.today().isoformat()
    argv = ["python", "manage.py", "spend", "--json", "--from", "2000-01-01", "--to", today]
    result = site.run("web", *argv, "--by", "provider,model,project")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    return {(r["date"], r["provider"], r["model"], r["project"]): r for r in rows}


def _assert_matches_truth(site, fake) -> None:
    truth = {(r["date"], r["provider"], r["model"], r["project"]): r for r in fake.truth()}
    ours = _spend(site)
    assert set(ours) == set(truth)
    for key, expected in truth.items():
        got = ours[key]
        for name in ("input_tokens", "output_tokens", "requests"):
            assert got[name] == expected[name], (key, name)
        assert Decimal(got["billed_cost"] or "0") == Decimal(expected["billed_cost"]), key


def _runs(site) -> list[tuple[str, str, int]]:
    return site.sql(
        "SELECT a.provider, r.outcome, r.windows FROM usage_syncrun r "
        "JOIN providers_provideraccount a ON a.id = r.account_id ORDER BY r.id"
    )


def _kill_mid_sync(site) -> None:
    """The OOM killer or `docker kill` while the OpenAI sync is running."""
    wait_for(
        lambda: any(p == "openai" and o == "running" and w >= 2 for p, o, w in _runs(site)),
        timeout=120,
        what="the OpenAI sync to be under way",
        logs=site.all_logs,
    )
    worker = site.procs["worker"]
    if site.broker == "rabbitmq":
        # The whole worker: its unacknowledged messages go back to the queue (acks_late).
        site.stop("worker", signal.SIGKILL)
        site.start("worker")
    else:
        # Its pool processes only (the OOM killer's choice): the main process rejects their
        # tasks back to the queue (reject_on_worker_lost) and its new processes run them.
        for child in psutil.Process(worker.pid).children():
            child.kill()


DEMO_PROVIDERS = {"openai", "anthropic", "openrouter", "deepseek", "fireworks"}  # `demo` accounts


def test_a_sync_through_the_worker_equals_the_provider_truth_even_after_a_kill(site):
    # Every OpenAI request takes 0.3 s, so the sync is still running when the worker is killed.
    with FakeProviderServer(seed=19, days=DAYS, faults="timeout:0.3@openai=1") as fake:
        demo = site.run("web", "python", "manage.py", "demo", "--fake-url", fake.url,
                        "--backfill-days", str(DAYS))  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        # Sent the way an operator would: `docker compose exec worker celery -A spendapp call`.
        call = site.run(
            "worker", "celery", "-A", "spendapp", "call", "spendapp.usage.tasks.sync_all_accounts"
        )
        assert call.returncode == 0, call.stderr
        _kill_mid_sync(site)
        fake.set_faults(None)
        # Nobody sends the task again: only the broker's redelivery can finish the sync.
        wait_for(
            lambda: {p for p, o, _ in _runs(site) if o == "success"} == DEMO_PROVIDERS,
            timeout=240,
            what="every demo account's sync to succeed after the kill",
            logs=site.all_logs,
        )
        _assert_matches_truth(site, fake)


# --- beat and email -------------------------------------------------------------------------
BUDGET_AND_SCHEDULE = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from spendapp.budgets.models import Budget
Budget.objects.create(name="Smoke", period="year", amount=1, forecast_alert=False,
                      anomaly_alert=False, extra_emails="%s")
every, _ = IntervalSchedule.objects.get_or_create(every=2, period="seconds")
PeriodicTask.objects.create(name="smoke: evaluate budgets", interval=every,
                            task="spendapp.budgets.tasks.evaluate_budgets")
"""


def test_beat_fires_the_budget_evaluation_and_the_alert_email_arrives(site):
    setup = site.run("web", "python", "manage.py", "shell", "-c", BUDGET_AND_SCHEDULE % FINANCE)
    assert setup.returncode == 0, setup.stderr
    fired = (
        "SELECT count(*) FROM django_celery_results_taskresult "
        "WHERE periodic_task_name = 'smoke: evaluate budgets' AND status = 'SUCCESS'"
    )
    wait_for(
        lambda: site.sql(fired)[0][0] > 0,
        timeout=60,
        what="beat's task to run",
        logs=site.all_logs,
    )
    message = wait_for(
        lambda: next((m for m in site.inbox.messages if FINANCE in m["X-Envelope-To"]), None),
        timeout=60,
        what="the alert email",
        logs=site.all_logs,
    )
    assert "Smoke" in message["Subject"]
    assert "http://localhost:8000/" in message.as_string()  # links from SITE_URL


# --- health checks --------------------------------------------------------------------------
@pytest.mark.parametrize("service", ["web", "worker", "beat"])
def test_each_health_check_fails_with_its_service_stopped_and_passes_when_it_runs(site, service):
    assert site.healthy(service), site.log(service)
    site.stop(service)
    assert not site.healthy(service)
    site.start(service)
    wait_for(lambda: site.healthy(service), timeout=90, what=service, logs=site.all_logs)


def test_the_beat_check_fails_when_beat_is_stuck(site):
    beat = site.procs["beat"]
    beat.send_signal(signal.SIGSTOP)
    try:
        time.sleep(4)
        # The compose check allows a minute; the same check with 3 s sees the stale heartbeat.
        stuck = site.run("beat", "python", "-m", "spendapp.heartbeat", "beat", "--max-age", "3")
        assert stuck.returncode == 1 and "last tick" in stuck.stderr
    finally:
        beat.send_signal(signal.SIGCONT)
