"""Exact to the cent, for the clouds: Azure OpenAI (Cost Management Query over loopback HTTP)
and AWS Bedrock (CUR 2.0 files in moto's S3 server, read with boto3 through the fake's fault
injection), synced by real Celery workers; with faults, and with a worker killed halfway."""

from __future__ import annotations

import pytest

from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import SyncRun
from tests.connectors.test_clouds_sync import assert_equals_truth
from tests.e2e.conftest import SYNC, kill_a_worker_mid_sync, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAYS = 120
CLOUDS = ("azure_openai", "bedrock")


def _cloud_accounts(fake) -> list[ProviderAccount]:
    from io import StringIO

    from django.core.management import call_command

    call_command("demo", "--clouds", fake_url=fake.url, backfill_days=DAYS, stdout=StringIO())
    return list(ProviderAccount.objects.filter(provider__in=CLOUDS).order_by("provider"))


def _sync(workers, accounts) -> dict[str, SyncRun]:
    before = SyncRun.objects.count()
    for account in accounts:
        workers.call(SYNC, account.pk, "test")
    done = ("success", "partial", "failed")
    wait_for(
        lambda: SyncRun.objects.filter(outcome__in=done).count() >= before + len(accounts),
        timeout=300,
        what="the cloud syncs",
        on_timeout=workers.logs,
    )
    runs = SyncRun.objects.order_by("-started_at")[: len(accounts)]
    return {r.account.provider: r for r in runs}


def test_a_clean_sync_of_both_clouds_equals_the_truth_and_a_rerun_changes_nothing(workers):
    with FakeProviderServer(seed=31, days=DAYS, clouds=True) as fake:
        accounts = _cloud_accounts(fake)
        workers.start()
        runs = _sync(workers, accounts)
        assert {r.outcome for r in runs.values()} == {"success"}, [r.error for r in runs.values()]
        assert_equals_truth(fake.truth())
        again = _sync(workers, accounts)
        assert {
            p: (r.outcome, r.rows_inserted, r.rows_updated, r.rows_deleted)
            for p, r in again.items()
        } == dict.fromkeys(CLOUDS, ("success", 0, 0, 0))


@pytest.mark.worker_env(
    PROVIDER_READ_TIMEOUT="1", PROVIDER_BACKOFF_BASE="0", PROVIDER_MAX_ATTEMPTS="8"
)
def test_cloud_faults_are_survived_and_a_bad_page_or_file_is_read_again_later(workers):
    faults = (
        "429@azure=0.08,500@azure.query=0.05,timeout:2@azure.query=0.05,"
        "truncated@azure.query#3,"
        # Bedrock's faults are counted (boto3 retries a corrupt listing, which would move the
        # count): request 3 is the first data file, then S3 errors that boto3 retries.
        "malformed@bedrock.s3#3,503@bedrock.s3#5,500@bedrock.s3#8,503@bedrock.s3#12"
    )
    with FakeProviderServer(seed=32, days=DAYS, faults=faults, clouds=True) as fake:
        accounts = _cloud_accounts(fake)
        workers.start()
        first = _sync(workers, accounts)
        # The bad answer failed its window, with the field or file named, and nothing else.
        assert first["azure_openai"].outcome == "partial", first["azure_openai"].error
        assert "rows" in first["azure_openai"].error
        assert first["bedrock"].outcome == "partial", first["bedrock"].error
        assert "gzip" in first["bedrock"].error
        second = _sync(workers, accounts)
        assert {r.outcome for r in second.values()} == {"success"}, [
            r.error for r in second.values()
        ]
        assert_equals_truth(fake.truth())
        log = fake.request_log
        assert log["azure.query"] > 0 and log["bedrock.s3"] > 0


@pytest.mark.worker_env(PROVIDER_BACKOFF_BASE="0")
def test_a_worker_killed_during_a_cloud_sync_leaves_nothing_half_written(workers):
    # Every Azure query takes 0.4 s, so the sync is still running when we kill it.
    with FakeProviderServer(
        seed=33, days=DAYS, faults="timeout:0.4@azure.query=1", clouds=True
    ) as fake:
        azure = next(a for a in _cloud_accounts(fake) if a.provider == "azure_openai")
        interrupted = kill_a_worker_mid_sync(workers, azure, windows=2)

        fake.set_faults(None)
        workers.start()
        runs = _sync(workers, [azure])
        assert runs["azure_openai"].outcome == "success", runs["azure_openai"].error
        interrupted.refresh_from_db()
        assert interrupted.outcome == "failed" and "interrupted" in interrupted.error
        assert_equals_truth(fake.truth(), providers=("azure_openai",))
        last = _sync(workers, [azure])["azure_openai"]
        assert (last.rows_inserted, last.rows_updated, last.rows_deleted) == (0, 0, 0)
