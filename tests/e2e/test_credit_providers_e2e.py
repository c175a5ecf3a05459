"""Exact to the cent for OpenRouter, and DeepSeek's balance kept: real Celery workers syncing
the fake over loopback HTTP, with faults, a killed worker and a re-sync that changes nothing."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import CreditBalance
from tests.e2e.conftest import kill_a_worker_mid_sync, sync_until_successes
from tests.e2e.test_ingestion_e2e import _sync_all, assert_matches_truth

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PROVIDERS = ("openrouter", "deepseek")


def _accounts(fake) -> list[ProviderAccount]:
    call_command("demo", fake_url=fake.url, backfill_days=60, stdout=StringIO())
    return list(ProviderAccount.objects.filter(provider__in=PROVIDERS).order_by("provider"))


def assert_openrouter_matches_truth(fake) -> None:
    assert_matches_truth(fake, PROVIDERS)


def test_a_clean_sync_equals_the_truth_keeps_the_balances_and_a_rerun_changes_nothing(workers):
    with FakeProviderServer(seed=21, days=60) as fake:
        accounts = _accounts(fake)
        workers.start()
        runs = _sync_all(workers, accounts)
        assert {r.outcome for r in runs} == {"success"}, [r.error for r in runs]
        assert_openrouter_matches_truth(fake)
        deepseek = next(a for a in accounts if a.provider == "deepseek")
        reported = {b["currency"]: b["total_balance"] for b in fake.extra["deepseek"].balances()}
        stored = {b.currency: b.amount for b in CreditBalance.objects.filter(account=deepseek)}
        assert stored == {c: Decimal(a) for c, a in reported.items()}
        reruns = _sync_all(workers, accounts)
        assert [(r.outcome, r.rows_inserted, r.rows_updated, r.rows_deleted) for r in reruns] == [
            ("success", 0, 0, 0)
        ] * len(accounts)
        # Each sync reads the balance again: the balance over time.
        assert CreditBalance.objects.filter(account=deepseek).count() == 4


@pytest.mark.worker_env(
    PROVIDER_READ_TIMEOUT="1", PROVIDER_BACKOFF_BASE="0", PROVIDER_MAX_ATTEMPTS="8"
)
def test_faults_are_survived_and_a_malformed_page_is_fetched_again_later(workers):
    faults = (
        "429@openrouter=0.05,500@openrouter=0.03,502@deepseek=0.2,timeout:2@openrouter=0.02,"
        "malformed@openrouter.activity#3,malformed@deepseek#1+"
    )
    with FakeProviderServer(seed=22, days=60, faults=faults) as fake:
        accounts = _accounts(fake)
        workers.start()
        first = {r.account.provider: r for r in _sync_all(workers, accounts)}
        assert first["openrouter"].outcome == "partial"
        assert "openrouter.activity" in first["openrouter"].error
        assert first["deepseek"].outcome == "failed"
        assert "credit balance" in first["deepseek"].error
        assert not CreditBalance.objects.filter(account__provider="deepseek").exists()
        fake.set_faults("429@openrouter=0.05,500@openrouter=0.03,502@deepseek=0.2")
        second = _sync_all(workers, accounts)
        assert {r.outcome for r in second} == {"success"}, [r.error for r in second]
        assert_openrouter_matches_truth(fake)
        assert CreditBalance.objects.filter(account__provider="deepseek").count() == 2


def test_a_worker_killed_halfway_leaves_nothing_half_written(workers):
    with FakeProviderServer(seed=23, days=60, faults="timeout:0.3@openrouter=1") as fake:
        openrouter = next(a for a in _accounts(fake) if a.provider == "openrouter")
        interrupted = kill_a_worker_mid_sync(workers, openrouter)

        fake.set_faults(None)
        workers.start()
        last = sync_until_successes(workers, openrouter, 2)
        interrupted.refresh_from_db()
        assert interrupted.outcome == "failed" and "interrupted" in interrupted.error
        assert_openrouter_matches_truth(fake)
        assert (last.rows_inserted, last.rows_updated, last.rows_deleted) == (0, 0, 0)
