"""Browser fixtures: the fake providers synced once per session, Debian's chromium per module.

Syncing 60 days of the fake organisation takes ~10 s, while `live_server` needs
`transactional_db`, which flushes every table after each test. So the synced database is
built once, copied into a private schema (``browser_snapshot``, invisible to Django's flush)
and copied back before each test: every test starts from the same committed data.

Celery: nothing here publishes to the real broker (the filesystem broker lives in the shared
``var/broker``). While the fixtures are active, ``Task.apply_async`` only records the task in
`QueuedTasks`; a test that needs a task's effect runs it itself (see test_allocation.py).

Playwright's sync API keeps an asyncio loop running in the main thread, so Django's ORM
would refuse to run next to it; ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set only while the browser
is up (one browser per test module, stopped before the next module's tests).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from celery.app.task import Task
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.db.models import Sum
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from spendapp.budgets.evaluate import evaluate_budget
from spendapp.budgets.models import Budget
from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import DailySpend
from spendapp.usage.sync import sync_account
from tests.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags chromium's own connections are refused here.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}
SEED = 11
DAYS = 60
SNAPSHOT_SCHEMA = "browser_snapshot"
USERS = {  # username -> (group, staff), as in tests/conftest.py
    "alice": (None, True),
    "bob": ("Finance", False),
    "erin": ("Engineering", False),
    "charlie": (None, False),
}
CHARTS_TIMEOUT_MS = 20_000


# --- Celery: record, never publish ------------------------------------------------------------


class QueuedTasks(list):
    """(task name, args) of every task the code under test tried to send."""

    def named(self, name: str) -> list[tuple]:
        return [args for task, args in self if task == name]


def _recording(queued: QueuedTasks):
    def apply_async(self, args=None, kwargs=None, **options):
        queued.append((self.name, tuple(args or ())))

    return apply_async


@pytest.fixture
def queued_tasks(monkeypatch) -> QueuedTasks:
    queued = QueuedTasks()
    monkeypatch.setattr(Task, "apply_async", _recording(queued))
    return queued


# --- the synced database, built once ----------------------------------------------------------


@dataclass
class BrowserData:
    today: date  # the data's last day (UTC), what the pages call today
    accounts: dict[str, ProviderAccount]
    budget_id: int
    tables: list[str] = field(default_factory=list)  # snapshotted tables with rows


def _ensure_migration_data() -> None:
    """Groups, model tiers and beat schedules come from data migrations; an earlier
    transactional test of the session may have flushed them. Re-run those migrations' code."""
    if Group.objects.filter(name="Finance").exists():
        return
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    local = {"core", "usage", "budgets", "allocation", "forecasting"}
    for (app_label, _name), migration in sorted(loader.disk_migrations.items()):
        if app_label not in local:
            continue
        for operation in migration.operations:
            if isinstance(operation, RunPython):
                operation.code(django_apps, None)


def _sync_fake_providers(now: datetime) -> dict[str, ProviderAccount]:
    accounts = {}
    with FakeProviderServer(seed=SEED, days=DAYS) as fake:
        for provider, base, key in (
            ("openai", fake.openai_base_url, DEFAULT_OPENAI_KEY),
            ("anthropic", fake.anthropic_base_url, DEFAULT_ANTHROPIC_KEY),
        ):
            account = ProviderAccount(
                name=f"{provider}-prod", provider=provider, base_url=base, backfill_days=DAYS
            )
            account.set_key(key)
            account.save()
            run = sync_account(account.pk, now=now)
            assert run.outcome == "success", run.error
            accounts[provider] = account
    return accounts


def _create_users() -> None:
    for username, (group, staff) in USERS.items():
        user = User.objects.create_user(
            username, f"{username}@example.com", PASSWORD, is_staff=staff, is_superuser=staff
        )
        if group:
            user.groups.add(Group.objects.get(name=group))


def _monthly_budget(today: date) -> Budget:
    """An org budget a little above last month's spend, evaluated like the worker would."""
    first = today.replace(day=1)
    last_month = DailySpend.objects.filter(
        day__gte=(first - timedelta(days=1)).replace(day=1), day__lt=first
    ).aggregate(total=Sum("estimated_cost"))["total"] or Decimal(1000)
    budget = Budget.objects.create(
        name="AI spend, whole organisation", amount=(last_month * Decimal("1.1")).quantize(1)
    )
    evaluate_budget(budget)
    return budget


def _django_tables() -> list[str]:
    return sorted(connection.introspection.django_table_names(only_existing=True))


def _snapshot() -> list[str]:
    qn = connection.ops.quote_name
    kept = []
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SNAPSHOT_SCHEMA}")
        for table in _django_tables():
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {qn(table)})")
            if cursor.fetchone()[0]:
                cursor.execute(
                    f"CREATE TABLE {SNAPSHOT_SCHEMA}.{qn(table)} AS SELECT * FROM {qn(table)}"
                )
                kept.append(table)
    return kept


def restore(data: BrowserData) -> None:
    """Put the database back to the snapshot: every Django table emptied, the snapshotted ones
    refilled, sequences moved past the restored ids."""
    qn = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # The rows were consistent when copied: skip the per-row foreign-key triggers, which
        # would otherwise be most of the time spent here (needs a superuser, as in tests).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(f"TRUNCATE {', '.join(qn(t) for t in _django_tables())}")
        for table in data.tables:
            cursor.execute(f"INSERT INTO {qn(table)} SELECT * FROM {SNAPSHOT_SCHEMA}.{qn(table)}")
        models = django_apps.get_models(include_auto_created=True)
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(sql)
    ContentType.objects.clear_cache()


@pytest.fixture(scope="session")
def browser_data(django_db_setup, django_db_blocker) -> Iterator[BrowserData]:
    now = datetime.now(UTC)
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as mp:
        mp.setattr(Task, "apply_async", _recording(QueuedTasks()))
        _ensure_migration_data()
        accounts = _sync_fake_providers(now)
        # The day's demand baseline behind the scenarios page, as the nightly task leaves it.
        from forecasting.runs.scenarios import compute_baseline

        compute_baseline()
        _create_users()
        budget = _monthly_budget(now.date())
        data = BrowserData(now.date(), accounts, budget.pk)
        data.tables = _snapshot()
    yield data
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SNAPSHOT_SCHEMA} CASCADE")


# --- the live server --------------------------------------------------------------------------


def _no_static_handler(application):
    return application


@pytest.fixture(scope="session")
def live_server(request) -> Iterator[LiveServer]:
    """pytest-django's live server, minus its StaticFilesHandler.

    That handler answers every /static/ URL from the finders (unhashed source names), so the
    manifest's hashed names 404 and no CSS or JS loads. Without it the requests reach
    WhiteNoise, which serves ``collectstatic``'s output as in production. Same name as the
    pytest-django fixture, so its ``_live_server_helper`` still applies (transactional_db,
    ALLOWED_HOSTS)."""
    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.static_handler = _no_static_handler
    server.start()
    yield server
    server.stop()


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


class ConsoleLog:
    """Console errors and uncaught page errors of one browser context."""

    def __init__(self):
        self.errors: list[str] = []

    def on_console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location.get('url', '')})")

    def on_pageerror(self, error) -> None:
        self.errors.append(f"pageerror: {error}")

    def take(self) -> list[str]:
        errors, self.errors = self.errors, []
        return errors

    def assert_clean(self, where: str = "") -> None:
        errors = self.take()
        assert not errors, f"console errors {where}: {errors}"


@dataclass
class Session:
    """One logged-out browser tab on the live server, with its console log."""

    page: Page
    base_url: str
    console: ConsoleLog
    data: BrowserData
    queued: QueuedTasks

    def url(self, path: str) -> str:
        return self.base_url + path

    def login(self, username: str, next_path: str = "/") -> None:
        """Log in through the real login form."""
        self.page.goto(self.url(f"/accounts/login/?next={next_path}"))
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", PASSWORD)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Log in").click()
        assert "/accounts/login/" not in self.page.url, f"login of {username} failed"

    def open(self, path: str, *, status: int = 200) -> Any:
        """Go to ``path``, wait until its charts are drawn, check status and console."""
        response = self.page.goto(self.url(path))
        assert response is not None and response.status == status, (path, response.status)
        # The policy is enforced (not report-only): a violation blocks and is reported below.
        assert "script-src 'self'" in response.headers.get("content-security-policy", ""), path
        self.wait_for_charts(path)
        return response

    def wait_for_charts(self, where: str = "") -> None:
        """Wait for charts.js to report every chart drawn (pages without charts do not load
        it), then check the console."""
        if self.page.locator("script[src*='/js/charts']").count() == 0:
            assert self.page.locator("[data-figure]").count() == 0, "charts but no charts.js"
            self.console.assert_clean(f"on {where or self.page.url}")
            return
        self.page.wait_for_function(
            "document.body && document.body.dataset.chartsReady !== undefined",
            timeout=CHARTS_TIMEOUT_MS,
        )
        state = self.page.evaluate("document.body.dataset.chartsReady")
        assert state == "1", f"charts of {where or self.page.url} ended as {state!r}"
        self.console.assert_clean(f"on {where or self.page.url}")

    def chart(self, chart_id: str) -> dict:
        """What Plotly drew in ``#chart_id`` next to the figure the server sent."""
        return self.page.evaluate(
            """id => {
                const gd = document.getElementById(id);
                const sent = JSON.parse(document.getElementById(id + '-data').textContent);
                const layer = '.scatterlayer > .trace, .barlayer > .trace';
                return {
                    names: (gd.data || []).map(t => t.name),
                    types: (gd.data || []).map(t => t.type),
                    x: (gd.data || []).map(t => Array.from(t.x || [])),
                    sentNames: sent.data.map(t => t.name),
                    drawn: !!gd._fullLayout && !!gd.querySelector('svg.main-svg'),
                    svgTraces: gd.querySelectorAll(layer).length,
                    legend: Array.from(gd.querySelectorAll('.legend .traces .legendtext'))
                        .map(e => e.textContent),
                    legendShown: !!(gd._fullLayout && gd._fullLayout.showlegend),
                    shownInLegend: (gd._fullData || [])
                        .filter(t => t.showlegend !== false).map(t => t.name),
                };
            }""",
            chart_id,
        )

    def page_charts(self) -> list[str]:
        return self.page.eval_on_selector_all("[data-figure]", "els => els.map(e => e.id)")


@pytest.fixture
def session(browser, browser_data, live_server, transactional_db, queued_tasks):
    restore(browser_data)
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    console = ConsoleLog()
    # Every Content-Security-Policy violation becomes a console error, which fails the test
    # (chromium logs most of them anyway; the event also catches those it does not).
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`));"
    )
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_pageerror)
    yield Session(page, live_server.url, console, browser_data, queued_tasks)
    leftover = console.take()
    context.close()
    assert not leftover, f"console errors: {leftover}"


def assert_drawn(chart: dict) -> None:
    """Plotly drew every trace the server sent, and the legend lists the shown ones."""
    assert chart["drawn"], "no Plotly SVG in the chart div"
    assert chart["names"] == chart["sentNames"]
    assert chart["svgTraces"] == len(chart["names"]), chart
    # Plotly orders legend entries by its own rules (groups, fills): compare as sets. With a
    # single trace it shows no legend at all.
    legend = sorted(chart["shownInLegend"]) if chart["legendShown"] else []
    assert sorted(chart["legend"]) == legend, chart
    assert chart["legendShown"] or len(chart["names"]) == 1, chart


FORBIDDEN = re.compile(r"status of 403")
