"""Findings 3 and 4: a stored key never follows its account to a new host, only users who may
change an account can use its key, and key rotation skips accounts that store no key."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse

from spendapp.providers import crypto
from spendapp.providers.fake import DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db
SECRET = "sk-admin-very-secret-key-1234567890abcd"
CHANGE = "admin:providers_provideraccount_change"
LIST = "admin:providers_provideraccount_changelist"


@pytest.fixture(autouse=True)
def _fresh_fernet_cache():
    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


def _account(key=SECRET, **kw) -> ProviderAccount:
    account = ProviderAccount(name="acme", provider="openai", **kw)
    account.set_key(key)
    account.save()
    return account


def _form(**overrides) -> dict:
    return {
        "provider": "openai",
        "name": "acme",
        "base_url": "",
        "api_key": "",
        "enabled": "on",
        "backfill_days": "30",
        **overrides,
    }


@pytest.mark.parametrize(
    "change", [{"base_url": "https://attacker.example/v1"}, {"provider": "anthropic"}]
)
def test_moving_an_account_to_another_host_without_a_new_key_is_refused(client, alice, change):
    account = _account()
    client.force_login(alice)
    response = client.post(reverse(CHANGE, args=[account.pk]), _form(**change))
    assert response.status_code == 200  # the form again, with the error
    assert "needs the admin API key again" in response.content.decode()
    account.refresh_from_db()
    assert account.base_url == "" and account.provider == "openai"


def test_moving_an_account_with_a_new_key_is_fine(client, alice):
    account = _account()
    client.force_login(alice)
    form = _form(base_url="https://proxy.example/v1", api_key="sk-admin-new-key-for-proxy-0000")
    client.post(reverse(CHANGE, args=[account.pk]), form)
    account.refresh_from_db()
    assert account.base_url == "https://proxy.example/v1"
    assert account.get_key() == "sk-admin-new-key-for-proxy-0000"


def _viewer() -> User:
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_provideraccount"))
    return user


@pytest.mark.parametrize("action", ["test_connection", "sync_now"])
def test_a_staff_user_who_may_only_view_accounts_cannot_use_their_key(client, action):
    with FakeProviderServer(seed=1, days=3) as fake:
        account = _account(key=DEFAULT_OPENAI_KEY, base_url=fake.openai_base_url)
        client.force_login(_viewer())
        assert client.get(reverse(LIST)).status_code == 200
        response = client.post(
            reverse(LIST), {"action": action, "_selected_action": [account.pk]}, follow=True
        )
        served = fake.request_log
    texts = [str(m) for m in response.context["messages"]]
    assert not any("sync queued" in t or "acme:" in t for t in texts)
    assert not any(served.values())
    account.refresh_from_db()
    assert account.last_sync_at is None


def test_rotate_keys_skips_focus_accounts_that_store_no_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    _account()
    ProviderAccount.objects.create(name="cloud", provider="focus", encrypted_key="")
    settings.FERNET_KEYS = [new, old]
    crypto._fernet.cache_clear()
    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "Re-encrypted 1 provider key(s)" in out.getvalue()
    settings.FERNET_KEYS = [new]
    crypto._fernet.cache_clear()
    assert ProviderAccount.objects.get(name="acme").get_key() == SECRET
    assert ProviderAccount.objects.get(name="cloud").encrypted_key == ""
