"""Finding 14: a failing names endpoint (projects, workspaces) fails one step of a sync, not
the whole sync: the run records the step's error and the usage still lands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spendapp.providers.fake import DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.usage.models import DailySpend, SyncRun
from spendapp.usage.sync import sync_account

pytestmark = pytest.mark.django_db
END = datetime(2026, 9, 10, 12, tzinfo=UTC)


def test_usage_lands_when_the_projects_endpoint_fails(settings):
    settings.PROVIDER_MAX_ATTEMPTS = 1  # the fault is permanent: no point in retrying
    with FakeProviderServer(seed=3, days=5, end=END, faults="500@openai.projects") as fake:
        account = ProviderAccount(
            name="acme", provider="openai", base_url=fake.openai_base_url, backfill_days=5
        )
        account.set_key(DEFAULT_OPENAI_KEY)
        account.save()
        run = sync_account(account.pk, now=END)
    assert run.outcome == SyncRun.Outcome.PARTIAL
    assert run.error.startswith("names (projects, keys, users): ")
    assert run.rows_inserted > 0
    assert DailySpend.objects.filter(account=account).exists()
    assert not ProviderEntity.objects.filter(account=account, kind="project").exists()
