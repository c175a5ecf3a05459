"""A fresh install opens on the way to its first data: add a provider account (where its admin
key comes from), test it, sync; while a sync runs, the pages say so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import SyncRun

pytestmark = pytest.mark.django_db


def _account(**kw) -> ProviderAccount:
    account = ProviderAccount(name="openai-main", provider="openai", **kw)
    account.set_key("sk-admin-test-0000000000")
    account.save()
    return account


def test_an_admin_without_accounts_gets_the_steps_to_the_first_sync(client, alice):
    client.force_login(alice)
    html = client.get("/").content.decode()
    assert 'id="first-run"' in html and 'href="/admin/providers/provideraccount/add/"' in html
    assert "platform.openai.com/settings/organization/admin-keys" in html
    assert "console.anthropic.com/settings/admin-keys" in html
    assert "Owner" in html and "Test connection" in html and "Sync now" in html
    assert 'id="chart-spend"' not in html


def test_a_viewer_without_accounts_is_told_an_administrator_adds_them(client, bob):
    client.force_login(bob)
    html = client.get("/").content.decode()
    assert 'id="first-run"' in html and "An administrator needs to add" in html
    assert "provideraccount/add/" not in html


def test_a_first_sync_in_progress_is_announced_with_its_progress(client, bob):
    account = _account()
    SyncRun.objects.create(
        account=account,
        started_at=timezone.now() - timedelta(minutes=3),
        windows=4,
        rows_inserted=12345,
    )
    client.force_login(bob)
    for path in ("/", "/data-health/"):
        html = client.get(path).content.decode()
        assert 'id="sync-progress"' in html, path
        assert "First sync in progress" in html and "openai-main" in html and "12,345 rows" in html
        assert "partial until it finishes" in html


def test_a_later_sync_is_a_quiet_note_and_a_stale_run_none_at_all(client, bob):
    account = _account(last_success_at=timezone.now() - timedelta(hours=1))
    run = SyncRun.objects.create(account=account, started_at=timezone.now())
    client.force_login(bob)
    html = client.get("/").content.decode()
    assert "Sync running" in html and "partial until it finishes" not in html
    run.started_at = timezone.now() - timedelta(hours=3)  # a worker killed mid-sync
    run.save()
    assert 'id="sync-progress"' not in client.get("/").content.decode()
