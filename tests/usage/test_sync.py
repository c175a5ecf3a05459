"""Sync semantics against the fake provider server over loopback HTTP."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection

from spendapp.providers.connectors import OpenAIConnector
from spendapp.providers.fake import (
    DEFAULT_ANTHROPIC_KEY,
    DEFAULT_OPENAI_KEY,
    FakeProviderServer,
)
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import CostLineItem, SyncRun, SyncWatermark, UsageBucket
from spendapp.usage.queries import SpendQuery, spend_rows
from spendapp.usage.sync import REVISION_OVERLAP, sync_account
from spendapp.usage.tasks import sync_all_accounts

pytestmark = pytest.mark.django_db
END = datetime(2026, 9, 10, 12, tzinfo=UTC)  # the fake's data ends here; "now" for the syncs


@pytest.fixture
def fake():
    with FakeProviderServer(seed=5, days=10, end=END) as server:
        yield server


def _account(fake, provider="openai", key=None, backfill_days=10):
    base = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
    account = ProviderAccount(
        name=f"{provider}-acct", provider=provider, base_url=base, backfill_days=backfill_days
    )
    account.set_key(key or (DEFAULT_OPENAI_KEY if provider == "openai" else DEFAULT_ANTHROPIC_KEY))
    account.save()
    return account


def _totals(provider: str) -> dict:
    rows = spend_rows(SpendQuery(END.date() - timedelta(days=30), END.date(), ("provider",)))
    return {r["date"]: r for r in rows if r["provider"] == provider}


def _truth_totals(fake, provider: str) -> dict:
    out: dict[str, dict] = {}
    for row in fake.truth():
        if row["provider"] != provider:
            continue
        day = out.setdefault(row["date"], {"input_tokens": 0, "output_tokens": 0})
        day["input_tokens"] += row["input_tokens"]
        day["output_tokens"] += row["output_tokens"]
    return out


def test_the_first_sync_backfills_and_sets_a_watermark_per_endpoint(fake):
    account = _account(fake)
    run = sync_account(account.pk, now=END)
    assert run.outcome == "success", run.error
    assert run.range_start == datetime(2026, 8, 31, tzinfo=UTC)  # END - 10 days, whole day
    assert run.pages >= run.windows > 0 and run.rows_inserted > 0
    marks = dict(SyncWatermark.objects.values_list("endpoint", "synced_until"))
    # Every OpenAI usage kind is synced by default, the unused ones too (empty buckets).
    assert set(marks) == {s.name for s in OpenAIConnector("", "sk-x").endpoints()}
    assert {"openai.completions", "openai.images", "openai.costs"} <= set(marks)
    assert all(until == END for until in marks.values())
    account.refresh_from_db()
    assert account.status == "ok" and account.last_success_at is not None
    ours = _totals("openai")
    for day, expected in _truth_totals(fake, "openai").items():
        assert ours[day]["input_tokens"] == expected["input_tokens"], day


def test_a_later_sync_starts_two_days_before_the_watermark(fake):
    account = _account(fake)
    sync_account(account.pk, now=END)
    later = sync_account(account.pk, now=END)
    assert later.range_start == datetime(2026, 9, 8, tzinfo=UTC)  # floor(END - 2 days)
    assert timedelta(days=2) == REVISION_OVERLAP
    assert (later.rows_inserted, later.rows_updated, later.rows_deleted) == (0, 0, 0)


def test_a_revised_bucket_is_picked_up_by_the_next_sync(fake):
    account = _account(fake)
    sync_account(account.pk, now=END)
    fake.revise("openai")
    run = sync_account(account.pk, now=END)
    assert run.rows_updated > 0
    ours = _totals("openai")
    for day, expected in _truth_totals(fake, "openai").items():
        assert ours[day]["input_tokens"] == expected["input_tokens"], day


def test_a_malformed_page_fails_its_window_commits_nothing_and_holds_the_watermark(fake):
    account = _account(fake)
    fake.set_faults("malformed@openai.costs#1")
    run = sync_account(account.pk, now=END)
    assert run.outcome == "partial"
    assert run.windows_failed == 1
    assert "openai.costs" in run.error and "JSON" in run.error
    assert not CostLineItem.objects.exists()
    assert not SyncWatermark.objects.filter(endpoint="openai.costs").exists()
    assert UsageBucket.objects.exists()  # the other endpoints went through
    account.refresh_from_db()
    assert account.status == "failing"

    fake.set_faults(None)
    again = sync_account(account.pk, now=END)
    assert again.outcome == "success" and CostLineItem.objects.exists()


def test_a_page_missing_a_required_field_names_the_field(fake):
    account = _account(fake)
    fake.set_faults("truncated@openai.completions#1")
    run = sync_account(account.pk, now=END)
    assert run.outcome == "partial"
    assert "input_tokens" in run.error and "data[" in run.error


def test_a_revoked_key_needs_attention_and_is_not_retried_until_changed(fake, caplog):
    account = _account(fake)
    fake.set_faults("revoke@openai")
    with caplog.at_level(logging.DEBUG):
        run = sync_account(account.pk, now=END)
    assert run.outcome == "failed" and "credentials rejected" in run.error
    account.refresh_from_db()
    assert account.status == "needs_attention"
    assert account.status_message  # the provider's own words
    assert sync_all_accounts() == []  # the schedule leaves it alone
    assert DEFAULT_OPENAI_KEY not in run.error and DEFAULT_OPENAI_KEY not in caplog.text
    assert DEFAULT_OPENAI_KEY not in account.status_message

    account.set_key(DEFAULT_OPENAI_KEY)  # an admin enters a (new) key
    account.save()
    assert sync_all_accounts() == [account.pk]


def test_an_unknown_key_is_reported_without_being_echoed(fake, caplog):
    wrong = "sk-admin-this-key-is-wrong-0123456789"
    account = _account(fake, key=wrong)
    with caplog.at_level(logging.DEBUG):
        run = sync_account(account.pk, now=END)
    assert run.outcome == "failed"
    assert wrong not in run.error and wrong not in caplog.text
    assert "0123456789" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_only_one_sync_per_account_runs_at_a_time(fake):
    account = _account(fake)
    db = connection.settings_dict
    other = psycopg.connect(dbname=db["NAME"], host=db["HOST"], user=db["USER"], autocommit=True)
    try:
        other.execute("SELECT pg_advisory_lock(7301, %s)", [account.pk])
        run = sync_account(account.pk, now=END)
        assert run.outcome == "skipped" and "another sync" in run.error
        assert not UsageBucket.objects.exists()
    finally:
        other.execute("SELECT pg_advisory_unlock(7301, %s)", [account.pk])
        other.close()
    assert sync_account(account.pk, now=END).outcome == "success"


def test_anthropic_default_workspace_and_cents_are_handled(fake):
    account = _account(fake, provider="anthropic")
    run = sync_account(account.pk, now=END)
    assert run.outcome == "success", run.error
    rows = spend_rows(SpendQuery(END.date() - timedelta(days=30), END.date(), ("project",)))
    assert any(r["project"] == "default" for r in rows)
    truth_billed = sum(
        Decimal(r["billed_cost"]) for r in fake.truth() if r["provider"] == "anthropic"
    )
    ours = sum(Decimal(r["billed_cost"] or 0) for r in rows)
    assert ours == truth_billed  # a x100 slip either way would fail this


def test_a_disabled_or_csv_account_is_not_scheduled(fake):
    account = _account(fake)
    account.enabled = False
    account.save()
    csv = ProviderAccount(name="cloud", provider="focus")
    csv.set_key("unused")
    csv.save()
    assert sync_all_accounts() == []


def test_a_dead_runs_record_is_closed_by_the_next_sync(fake):
    account = _account(fake)
    stale = SyncRun.objects.create(account=account, started_at=END - timedelta(hours=2))
    sync_account(account.pk, now=END)
    stale.refresh_from_db()
    assert stale.outcome == "failed" and "interrupted" in stale.error
