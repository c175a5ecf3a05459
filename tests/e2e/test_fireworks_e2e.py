"""Exact to the cent for Fireworks AI: real Celery workers syncing the fake over loopback HTTP,
with faults, a killed worker and a re-sync that changes nothing."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from tests.e2e.conftest import kill_a_worker_mid_sync, sync_until_successes
from tests.e2e.test_ingestion_e2e import _sync_all, assert_matches_truth

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAYS = 60


def _account(fake) -> ProviderAccount:
    call_command("demo", fake_url=fake.url, backfill_days=DAYS, stdout=StringIO())
    return ProviderAccount.objects.get(provider="fireworks")


def assert_fireworks_matches_truth(fake) -> None:
    ours = assert_matches_truth(fake, ("fireworks",))
    for key, expected in ((k, r) for r in fake.truth() if (k := _key(r))[1] == "fireworks"):
        assert Decimal(ours[key]["billed_cost"]).quantize(Decimal("0.01")) == Decimal(
            expected["billed_cost"]
        ).quantize(Decimal("0.01")), key


def _key(row: dict) -> tuple:
    return (row["date"], row["provider"], row["model"], row["project"])


def test_a_clean_sync_equals_the_truth_and_a_rerun_changes_nothing(workers):
    with FakeProviderServer(seed=31, days=DAYS) as fake:
        account = _account(fake)
        assert account.settings == {"account_id": "spendapp-demo"}
        workers.start()
        [run] = _sync_all(workers, [account])
        assert run.outcome == "success", run.error
        assert run.rows_inserted > 0
        assert_fireworks_matches_truth(fake)
        [rerun] = _sync_all(workers, [account])
        assert (rerun.outcome, rerun.rows_inserted, rerun.rows_updated, rerun.rows_deleted) == (
            "success",
            0,
            0,
            0,
        )


@pytest.mark.worker_env(
    PROVIDER_READ_TIMEOUT="1", PROVIDER_BACKOFF_BASE="0", PROVIDER_MAX_ATTEMPTS="8"
)
def test_faults_are_survived_a_bad_page_writes_nothing_and_a_revision_is_picked_up(workers):
    retried = "429@fireworks=0.05,500@fireworks=0.03,503@fireworks=0.03,timeout:2@fireworks=0.02"
    # billingUsage request 1 is the key names (no dates needed); from request 2 on every
    # usage page lacks a row's startTime; the 15th summary (a later window: the first week's
    # seven days are written) is not JSON.
    bad = "truncated@fireworks.billing_usage#2+,malformed@fireworks.billing_summary#15"
    with FakeProviderServer(seed=32, days=DAYS, faults=f"{retried},{bad}") as fake:
        account = _account(fake)
        workers.start()
        [first] = _sync_all(workers, [account])
        assert first.outcome == "partial", first.error
        assert "fireworks.costs" in first.error and "fireworks.usage" in first.error
        assert "serverlessCosts[0].startTime: required field is missing" in first.error
        assert first.rows_inserted > 0  # the weeks of summaries before the bad one

        fake.set_faults(retried)
        [second] = _sync_all(workers, [account])
        assert second.outcome == "success", second.error
        assert second.rows_inserted > 0
        assert_fireworks_matches_truth(fake)

        fake.set_faults(f"{retried},revise@fireworks#1")  # yesterday's numbers restated
        [third] = _sync_all(workers, [account])
        assert third.outcome == "success", third.error
        assert third.rows_updated > 0
        assert_fireworks_matches_truth(fake)

        fake.set_faults(retried)
        [fourth] = _sync_all(workers, [account])
        assert (fourth.outcome, fourth.rows_inserted, fourth.rows_updated, fourth.rows_deleted) == (
            "success",
            0,
            0,
            0,
        )


def test_a_worker_killed_halfway_leaves_nothing_half_written(workers):
    with FakeProviderServer(seed=33, days=DAYS, faults="timeout:0.3@fireworks=1") as fake:
        account = _account(fake)
        interrupted = kill_a_worker_mid_sync(workers, account)

        fake.set_faults(None)
        workers.start()
        last = sync_until_successes(workers, account, 2)
        interrupted.refresh_from_db()
        assert interrupted.outcome == "failed" and "interrupted" in interrupted.error
        assert_fireworks_matches_truth(fake)
        assert (last.rows_inserted, last.rows_updated, last.rows_deleted) == (0, 0, 0)
