"""Dashboard fixtures: a frozen clock and a small, deterministic rollup to draw.

Most tests write `DailySpend` / `HourlySpend` rows directly (fast, exact numbers); the
fake-provider test in test_exports.py fills them through the real sync path instead.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.usage.models import DailySpend, HourlySpend, SyncRun

NOW = datetime(2026, 9, 10, 12, tzinfo=UTC)
TODAY = NOW.date()
HISTORY_DAYS = 120
# (provider, model, project, api key, user, daily input tokens, output tokens, $ per day)
SERIES = [
    ("openai", "gpt-5.5", "proj_support", "key_support", "user_ann", 4_000_000, 400_000, "32.00"),
    (
        "openai",
        "gpt-5.4-mini",
        "proj_support",
        "key_support",
        "user_bo",
        9_000_000,
        900_000,
        "10.80",
    ),
    ("openai", "gpt-5.4", "proj_rag", "key_rag", "", 2_000_000, 300_000, "9.50"),
    ("anthropic", "claude-opus-4-7", "wrkspc_research", "key_lab", "", 1_500_000, 200_000, "12.50"),
    ("anthropic", "claude-haiku-4-5", "wrkspc_research", "key_lab", "", 5_000_000, 500_000, "7.50"),
]


def _account(provider: str) -> ProviderAccount:
    account = ProviderAccount(name=f"{provider}-main", provider=provider, status="ok")
    account.set_key("sk-test-key-0000000000")
    account.last_success_at = NOW - timedelta(hours=1)
    account.save()
    return account


def _weekly(day: date) -> Decimal:
    # Weekdays busier than weekends, and slow growth: something a forecast can learn.
    base = Decimal("1.0") if day.weekday() < 5 else Decimal("0.6")
    growth = 1 + Decimal((day - TODAY).days + HISTORY_DAYS) / 400
    return base * growth


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.fixture
def accounts(db):
    return {p: _account(p) for p in ("openai", "anthropic")}


@pytest.fixture
def spend_data(frozen_now, accounts):
    """120 days of daily rows up to today, billed per project+model except the last two
    days (costs settle later), plus 3 days of hourly rows and entity names."""
    rows, hourly = [], []
    for offset in range(HISTORY_DAYS):
        day = TODAY - timedelta(days=offset)
        factor = _weekly(day)
        for provider, model, project, key, user, inp, out, cost in SERIES:
            account = accounts[provider]
            estimated = (Decimal(cost) * factor).quantize(Decimal("0.000001"))
            rows.append(
                DailySpend(
                    day=day,
                    account=account,
                    provider=provider,
                    project_id=project,
                    model=model,
                    api_key_id=key,
                    user_id=user,
                    input_uncached_tokens=int(inp * factor * 3 / 4),
                    input_cached_tokens=int(inp * factor / 4),
                    output_tokens=int(out * factor),
                    requests=int(1000 * factor),
                    estimated_cost=estimated,
                )
            )
            if offset >= 2:  # billed at the project x model grain, a little above the estimate
                rows.append(
                    DailySpend(
                        day=day,
                        account=account,
                        provider=provider,
                        project_id=project,
                        model=model,
                        billed_cost=estimated * Decimal("1.02"),
                    )
                )
            if offset < 3:
                for hour in range(24):
                    hourly.append(
                        HourlySpend(
                            hour=datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
                            account=account,
                            provider=provider,
                            project_id=project,
                            model=model,
                            api_key_id=key,
                            user_id=user,
                            input_uncached_tokens=int(inp * factor * 3 / 4 / 24),
                            input_cached_tokens=int(inp * factor / 4 / 24),
                            output_tokens=int(out * factor / 24),
                            requests=int(1000 * factor / 24),
                            estimated_cost=(estimated / 24).quantize(Decimal("0.000001")),
                        )
                    )
    DailySpend.objects.bulk_create(rows)
    HourlySpend.objects.bulk_create(hourly)
    ProviderEntity.objects.bulk_create(
        [
            ProviderEntity(
                account=accounts["openai"],
                kind="project",
                external_id="proj_support",
                name="Customer Support",
            ),
            ProviderEntity(
                account=accounts["openai"],
                kind="project",
                external_id="proj_rag",
                name="Search & RAG",
            ),
            ProviderEntity(
                account=accounts["anthropic"],
                kind="project",
                external_id="wrkspc_research",
                name="Research",
            ),
        ]
    )
    SyncRun.objects.create(
        account=accounts["openai"],
        started_at=NOW - timedelta(hours=1),
        finished_at=NOW - timedelta(minutes=59),
        outcome="success",
        rows_inserted=10,
        warnings="a note of the sync: one source was not used (HTTP 403)",
    )
    SyncRun.objects.create(
        account=accounts["anthropic"],
        started_at=NOW - timedelta(hours=2),
        outcome="failed",
        error="HTTP 529 overloaded_error after 6 attempts",
    )
    return rows


@pytest.fixture
def engineering_client(client, erin):
    client.force_login(erin)
    return client


@pytest.fixture(params=["bob", "erin"])
def role_client(request, client):
    """A logged-in client for each dashboard role (Finance, Engineering)."""
    client.force_login(request.getfixturevalue(request.param))
    return client


def chart_json(response, chart_id: str) -> dict:
    """The figure JSON of chart ``chart_id`` on a rendered page."""
    html = response.content.decode()
    match = re.search(
        rf'<script type="application/json" id="{re.escape(chart_id)}-data">(.*?)</script>',
        html,
        re.S,
    )
    assert match, f"no figure for #{chart_id}"
    assert f'id="{chart_id}"' in html
    return json.loads(match.group(1))


@pytest.fixture
def stored_forecasts(spend_data):
    """Today's stored total forecasts, as a sync's hook (the total) and a user's "Compute now"
    (gpt-5.5) leave them: the pages read them and never fit one."""
    from forecasting.runs.forecasts import forecast_total
    from forecasting.runs.scenarios import compute_baseline

    forecast_total(horizon=90, compute=True)
    forecast_total({"model": ["gpt-5.5"]}, horizon=90, compute=True)
    compute_baseline()  # the scenarios' demand baseline, as the nightly task leaves it
    return spend_data


@pytest.fixture
def scenario_baseline(spend_data):
    """The day's stored demand baseline behind the scenarios page (no total forecast)."""
    from forecasting.runs.scenarios import compute_baseline

    compute_baseline()
    return spend_data
