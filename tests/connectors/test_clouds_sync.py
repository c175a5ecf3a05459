"""Bedrock and Azure OpenAI synced in process against the fake (real S3 server, real HTTP):
``manage.py spend --json`` equals the fake's truth to the cent, and a second sync changes
nothing. The Celery-worker version with faults and a killed worker is tests/e2e."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.sync import sync_account

pytestmark = pytest.mark.django_db
END = datetime(2026, 11, 3, 7, tzinfo=UTC)  # crosses a billing period: October and November
CLOUDS = ("azure_openai", "bedrock")


@pytest.fixture(scope="module")
def fake():
    with FakeProviderServer(seed=21, days=12, end=END, clouds=True) as server:
        yield server


def _cloud_accounts(fake) -> list[ProviderAccount]:
    call_command("demo", "--clouds", fake_url=fake.url, backfill_days=12, stdout=StringIO())
    return list(ProviderAccount.objects.filter(provider__in=CLOUDS).order_by("provider"))


def spend_by_day_model_project(providers=CLOUDS) -> dict[tuple, dict]:
    out = StringIO()
    call_command(
        "spend",
        "--json",
        "--from",
        "2000-01-01",
        "--to",
        (date.today() + timedelta(days=1)).isoformat(),
        "--by",
        "provider,model,project",
        stdout=out,
    )
    rows = json.loads(out.getvalue())
    return {
        (r["date"], r["provider"], r["model"], r["project"]): r
        for r in rows
        if r["provider"] in providers
    }


def assert_equals_truth(truth_rows, providers=CLOUDS) -> None:
    truth = {
        (r["date"], r["provider"], r["model"], r["project"]): r
        for r in truth_rows
        if r["provider"] in providers
    }
    ours = spend_by_day_model_project(providers)
    assert set(ours) == set(truth), (
        sorted(set(truth) - set(ours))[:3],
        sorted(set(ours) - set(truth))[:3],
    )
    for key, want in truth.items():
        got = ours[key]
        assert (got["input_tokens"], got["output_tokens"]) == (
            want["input_tokens"],
            want["output_tokens"],
        ), key
        assert Decimal(got["billed_cost"]) == Decimal(want["billed_cost"]), key


def test_both_clouds_sync_to_the_truth_to_the_cent_and_a_rerun_changes_nothing(fake):
    accounts = _cloud_accounts(fake)
    assert [a.provider for a in accounts] == ["azure_openai", "bedrock"]
    runs = [sync_account(a.pk, now=END) for a in accounts]
    assert [r.outcome for r in runs] == ["success", "success"], [r.error for r in runs]
    assert all(r.rows_inserted > 0 for r in runs)
    assert_equals_truth(fake.truth())
    again = [sync_account(a.pk, now=END, full=True) for a in accounts]
    assert [(r.outcome, r.rows_inserted, r.rows_updated, r.rows_deleted) for r in again] == [
        ("success", 0, 0, 0)
    ] * 2
