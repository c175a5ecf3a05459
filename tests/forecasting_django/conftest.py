"""A fake provider organisation synced once per test module (syncing takes seconds).

The synced rows are committed outside the tests' transactions and deleted at module end, so
tests in this directory must not use ``transactional_db`` (it would flush them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.sync import sync_account

END = datetime(2026, 9, 10, 12, tzinfo=UTC)  # the fake's data ends here; "now" for the syncs
AS_OF = date(2026, 9, 9)  # the last complete day
SYNC_DAYS = 60  # enough for backtests with weekly seasonality, quick to sync and fit


def sync_fake(seed: int, days: int, providers=("openai", "anthropic")) -> list[ProviderAccount]:
    accounts = []
    with FakeProviderServer(seed=seed, days=days, end=END) as fake:
        for provider in providers:
            base = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
            key = DEFAULT_OPENAI_KEY if provider == "openai" else DEFAULT_ANTHROPIC_KEY
            account = ProviderAccount(
                name=f"{provider}-fake", provider=provider, base_url=base, backfill_days=days
            )
            account.set_key(key)
            account.save()
            run = sync_account(account.pk, now=END)
            assert run.outcome == "success", run.error
            accounts.append(account)
    return accounts


@pytest.fixture(scope="module")
def fake_org(django_db_setup, django_db_blocker):
    """Both providers of the fake organisation (seed 3), ``SYNC_DAYS`` days, in the DB."""
    with django_db_blocker.unblock():
        accounts = sync_fake(seed=3, days=SYNC_DAYS)
    yield accounts
    with django_db_blocker.unblock():
        ProviderAccount.objects.filter(pk__in=[a.pk for a in accounts]).delete()
