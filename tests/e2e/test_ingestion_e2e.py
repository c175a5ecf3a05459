"""Exact to the cent: the fake organisation synced by real Celery workers over real HTTP.

What `manage.py spend` reports must equal the fake server's ground truth per day, provider,
model and project (tokens, requests, billed cost), also with faults injected and after a
worker is killed halfway.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import SyncRun, UsageBucket
from tests.e2e.conftest import SYNC, kill_a_worker_mid_sync, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
DAYS = 120


def _accounts(fake) -> list[ProviderAccount]:
    call_command("demo", fake_url=fake.url, backfill_days=DAYS, stdout=StringIO())
    return list(ProviderAccount.objects.order_by("provider"))


def _spend() -> dict[tuple, dict]:
    out = StringIO()
    call_command(
        "spend",
        "--json",
        "--from",
        "2000-01-01",
        "--to",
        date.today().isoformat(),
        "--by",
        "provider,model,project",
        stdout=out,
    )
    return {
        (r["date"], r["provider"], r["model"], r["project"]): r for r in json.loads(out.getvalue())
    }


def assert_matches_truth(fake, providers: tuple[str, ...] | None = None) -> dict:
    """``spend --json`` equals the fake's truth to the cent (for ``providers`` only, which must
    have truth rows, when given); returns our rows by key."""
    truth = {
        (r["date"], r["provider"], r["model"], r["project"]): r
        for r in fake.truth()
        if providers is None or r["provider"] in providers
    }
    ours = {k: v for k, v in _spend().items() if providers is None or k[1] in providers}
    assert truth or providers is None, f"no truth rows for {providers}"
    assert set(ours) == set(truth), (
        f"missing {sorted(set(truth) - set(ours))[:5]}, extra {sorted(set(ours) - set(truth))[:5]}"
    )
    for key, expected in truth.items():
        got = ours[key]
        for field in ("input_tokens", "output_tokens", "requests"):
            assert got[field] == expected[field], (key, field)
        assert Decimal(got["billed_cost"] or "0") == Decimal(expected["billed_cost"]), key
    return ours


def _sync_all(workers, accounts) -> list[SyncRun]:
    before = SyncRun.objects.count()
    for account in accounts:
        workers.call(SYNC, account.pk, "test")
    finished = ("success", "partial", "failed")
    wait_for(
        lambda: SyncRun.objects.filter(outcome__in=finished).count() >= before + len(accounts),
        timeout=300,
        what="the syncs to finish",
        on_timeout=workers.logs,
    )
    return list(SyncRun.objects.order_by("-started_at")[: len(accounts)])


def test_a_clean_sync_of_120_days_equals_the_truth_and_a_rerun_changes_nothing(workers):
    with FakeProviderServer(seed=11, days=DAYS) as fake:
        accounts = _accounts(fake)
        workers.start()
        runs = _sync_all(workers, accounts)
        assert {r.outcome for r in runs} == {"success"}, [r.error for r in runs]
        # DeepSeek reports a balance, no usage: its runs write no usage rows.
        assert all(r.rows_inserted > 0 for r in runs if r.account.provider != "deepseek")
        assert_matches_truth(fake)

        rows_before = UsageBucket.objects.count()
        reruns = _sync_all(workers, accounts)
        assert [(r.outcome, r.rows_inserted, r.rows_updated, r.rows_deleted) for r in reruns] == [
            ("success", 0, 0, 0)
        ] * len(accounts)
        assert UsageBucket.objects.count() == rows_before


@pytest.mark.worker_env(
    PROVIDER_READ_TIMEOUT="1", PROVIDER_BACKOFF_BASE="0", PROVIDER_MAX_ATTEMPTS="8"
)
def test_faults_are_survived_and_a_malformed_page_is_fetched_again_later(workers):
    faults = (
        "429=0.04,500=0.03,502=0.02,529@anthropic=0.03,timeout:2=0.02,"
        "malformed@openai.costs#1,truncated@anthropic.usage.messages#2"
    )
    with FakeProviderServer(seed=12, days=DAYS, faults=faults) as fake:
        accounts = _accounts(fake)
        workers.start()
        first = {r.account.provider: r for r in _sync_all(workers, accounts)}
        # The bad pages failed their windows, with the field named, and nothing else.
        assert first["openai"].outcome == "partial"
        assert "openai.costs" in first["openai"].error
        assert first["anthropic"].outcome == "partial"
        assert "has_more" in first["anthropic"].error
        second = _sync_all(workers, accounts)
        assert {r.outcome for r in second} == {"success"}, [r.error for r in second]
        assert_matches_truth(fake)
        assert sum(fake.request_log.values()) > 0


def test_a_worker_killed_halfway_leaves_nothing_half_written(workers):
    # Every OpenAI request takes 0.3 s, so the sync is still running when we kill it.
    with FakeProviderServer(seed=13, days=DAYS, faults="timeout:0.3@openai=1") as fake:
        openai = next(a for a in _accounts(fake) if a.provider == "openai")
        interrupted = kill_a_worker_mid_sync(workers, openai, windows=4)

        fake.set_faults(None)
        workers.start()
        workers.call(SYNC, openai.pk, "test")
        wait_for(
            lambda: SyncRun.objects.filter(account=openai, outcome="success").exists(),
            timeout=300,
            what="the second sync",
            on_timeout=workers.logs,
        )
        interrupted.refresh_from_db()
        assert interrupted.outcome == "failed" and "interrupted" in interrupted.error
        truth_openai = [r for r in fake.truth() if r["provider"] == "openai"]
        ours = {k: v for k, v in _spend().items() if k[1] == "openai"}
        assert len(ours) == len(truth_openai)
        for row in truth_openai:
            got = ours[(row["date"], "openai", row["model"], row["project"])]
            assert (got["input_tokens"], got["output_tokens"], got["requests"]) == (
                row["input_tokens"],
                row["output_tokens"],
                row["requests"],
            )
            assert Decimal(got["billed_cost"] or "0") == Decimal(row["billed_cost"])

        # A full re-read of everything finds exactly the rows we have.
        workers.call(SYNC, openai.pk, "test")
        wait_for(
            lambda: SyncRun.objects.filter(account=openai, outcome="success").count() >= 2,
            timeout=300,
            what="the third sync",
            on_timeout=workers.logs,
        )
        last = SyncRun.objects.filter(account=openai).order_by("-started_at").first()
        assert (last.rows_inserted, last.rows_updated, last.rows_deleted) == (0, 0, 0)
