"""Exact to the cent through Anthropic's Usage and Cost Analytics API: real Celery workers
sync the fake over loopback HTTP with the analytics-capable key, with faults, a killed worker
and a re-sync that changes nothing; `spend --json` equals the truth. The ordinary admin key
falls back to the legacy reports with a warning that never holds the key."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from spendapp.providers.fake import (
    DEFAULT_ANTHROPIC_ANALYTICS_KEY,
    DEFAULT_ANTHROPIC_KEY,
    FakeProviderServer,
)
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import DailySpend, DailyUsageDetail, UsageBucket
from tests.e2e.conftest import kill_a_worker_mid_sync, sync_until_successes
from tests.e2e.test_ingestion_e2e import _sync_all, assert_matches_truth

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAYS = 60


def _anthropic(fake, key: str = DEFAULT_ANTHROPIC_ANALYTICS_KEY) -> ProviderAccount:
    """The demo's Anthropic account, reading with ``key``."""
    call_command("demo", fake_url=fake.url, backfill_days=DAYS, stdout=StringIO())
    account = ProviderAccount.objects.get(provider="anthropic")
    account.set_key(key)
    account.save()
    return account


def assert_anthropic_matches_truth(fake) -> None:
    assert_matches_truth(fake, ("anthropic",))


def test_a_clean_sync_through_analytics_equals_the_truth_and_a_rerun_changes_nothing(workers):
    with FakeProviderServer(seed=31, days=DAYS) as fake:
        account = _anthropic(fake)
        workers.start()
        (run,) = _sync_all(workers, [account])
        assert run.outcome == "success", run.error
        assert run.warnings == ""
        log = fake.request_log
        assert log["anthropic.analytics.usage"] > 1 and log["anthropic.analytics.cost"] > 0
        assert "anthropic.usage.messages" not in log and "anthropic.cost_report" not in log
        assert_anthropic_matches_truth(fake)
        # The actor behind the usage is kept: users (user_id) and the service account.
        detail = DailyUsageDetail.objects.filter(account=account).exclude(service_account_id="")
        assert set(detail.values_list("service_account_id", flat=True)) == {"svac_01AgentsPipeline"}
        users = set(
            UsageBucket.objects.filter(account=account)
            .exclude(user_id="")
            .values_list("user_id", flat=True)
        )
        assert users and all(u.startswith("user_") for u in users)
        assert (
            set(DailySpend.objects.filter(account=account).values_list("user_id", flat=True))
            >= users
        )

        (rerun,) = _sync_all(workers, [account])
        assert (rerun.outcome, rerun.rows_inserted, rerun.rows_updated, rerun.rows_deleted) == (
            "success",
            0,
            0,
            0,
        )
        assert_anthropic_matches_truth(fake)


def test_the_ordinary_admin_key_falls_back_with_a_key_free_warning(workers):
    with FakeProviderServer(seed=32, days=DAYS) as fake:
        account = _anthropic(fake, DEFAULT_ANTHROPIC_KEY)
        workers.start()
        (run,) = _sync_all(workers, [account])
        assert run.outcome == "success", run.error
        assert "HTTP 403" in run.warnings and "legacy" in run.warnings
        assert DEFAULT_ANTHROPIC_KEY not in run.warnings
        log = fake.request_log
        assert log["anthropic.analytics.usage"] == 1 and "anthropic.analytics.cost" not in log
        assert_anthropic_matches_truth(fake)


@pytest.mark.worker_env(
    PROVIDER_READ_TIMEOUT="1", PROVIDER_BACKOFF_BASE="0", PROVIDER_MAX_ATTEMPTS="8"
)
def test_faults_are_survived_and_a_malformed_page_is_fetched_again_later(workers):
    retried = "429@anthropic=0.05,500@anthropic=0.03,529@anthropic=0.03,timeout:2@anthropic=0.02"
    # The probe is analytics.usage request #1: #2 is the first page of usage.
    bad = "malformed@anthropic.analytics.cost#1,truncated@anthropic.analytics.usage#2"
    with FakeProviderServer(seed=33, days=DAYS, faults=f"{retried},{bad}") as fake:
        account = _anthropic(fake)
        workers.start()
        (first,) = _sync_all(workers, [account])
        assert first.outcome == "partial", first.error
        assert "anthropic.cost_report" in first.error and "not valid JSON" in first.error
        assert "anthropic.messages" in first.error and "has_more" in first.error
        assert first.warnings == ""
        fake.set_faults(retried)
        (second,) = _sync_all(workers, [account])
        assert second.outcome == "success", second.error
        assert_anthropic_matches_truth(fake)


def test_a_worker_killed_halfway_leaves_nothing_half_written(workers):
    with FakeProviderServer(seed=34, days=DAYS, faults="timeout:0.3@anthropic=1") as fake:
        account = _anthropic(fake)
        interrupted = kill_a_worker_mid_sync(workers, account)

        fake.set_faults(None)
        workers.start()
        last = sync_until_successes(workers, account, 2)
        interrupted.refresh_from_db()
        assert interrupted.outcome == "failed" and "interrupted" in interrupted.error
        assert_anthropic_matches_truth(fake)
        assert last.warnings == ""
        assert (last.rows_inserted, last.rows_updated, last.rows_deleted) == (0, 0, 0)
