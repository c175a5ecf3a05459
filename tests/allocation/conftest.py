"""Fixtures: the fake provider organisation synced into the rollup, and a small team tree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spendapp.allocation.models import Team
from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.sync import sync_account

END = datetime(2026, 9, 10, 12, tzinfo=UTC)  # the fake's data ends here; "now" for the syncs


@pytest.fixture(scope="module")
def fake_server():
    with FakeProviderServer(seed=7, days=45, end=END) as server:
        yield server


def _account(server, provider: str) -> ProviderAccount:
    base = server.openai_base_url if provider == "openai" else server.anthropic_base_url
    account = ProviderAccount(
        name=f"{provider}-acct", provider=provider, base_url=base, backfill_days=45
    )
    account.set_key(DEFAULT_OPENAI_KEY if provider == "openai" else DEFAULT_ANTHROPIC_KEY)
    account.save()
    return account


@pytest.fixture
def synced(db, fake_server):
    """Both fake providers synced: {provider: account}."""
    accounts = {p: _account(fake_server, p) for p in ("openai", "anthropic")}
    for account in accounts.values():
        run = sync_account(account.pk, now=END)
        assert run.outcome == "success", run.error
    return accounts


@pytest.fixture
def tree(db):
    """Acme (company) > Engineering (department, CC-100) > Search, Chat; Acme > Sales (team)."""
    acme = Team.objects.create(name="Acme", kind="company")
    eng = Team.objects.create(name="Engineering", kind="department", parent=acme, code="CC-100")
    search = Team.objects.create(
        name="Search", parent=eng, code="T-SEARCH", owner_email="search@example.com"
    )
    chat = Team.objects.create(name="Chat", parent=eng, owner_email="chat@example.com")
    sales = Team.objects.create(name="Sales", parent=acme)
    return {"acme": acme, "eng": eng, "search": search, "chat": chat, "sales": sales}


@pytest.fixture
def eager_recompute(monkeypatch):
    """Queued recompute tasks run in-process; returns the list of (from, to) they got.
    Combine with ``django_capture_on_commit_callbacks(execute=True)``."""
    from spendapp.allocation import tasks

    calls: list[tuple[str, str]] = []

    def delay(*args):
        calls.append(args)
        return tasks.recompute_allocation(*args)

    monkeypatch.setattr(tasks.recompute_allocation, "delay", delay)
    return calls
