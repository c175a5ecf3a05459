"""Provider keys: encrypted at rest, write-only in the admin, shown masked, rotatable."""

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from spendapp.providers import crypto
from spendapp.providers.fake import DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db
SECRET = "sk-admin-very-secret-key-1234567890abcd"


@pytest.fixture(autouse=True)
def _fresh_fernet_cache():
    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


def _stored_column(account) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encrypted_key FROM providers_provideraccount WHERE id = %s", [account.pk]
        )
        return cursor.fetchone()[0]


def _account(key=SECRET, **kw) -> ProviderAccount:
    account = ProviderAccount(
        name=kw.pop("name", "acme"), provider=kw.pop("provider", "openai"), **kw
    )
    account.set_key(key)
    account.save()
    return account


def test_the_key_is_encrypted_at_rest_and_reads_back():
    account = _account()
    stored = _stored_column(account)
    assert SECRET not in stored and "1234567890" not in stored
    assert ProviderAccount.objects.get().get_key() == SECRET
    assert account.key_hint == "sk-…abcd"


def test_keys_rotate_to_a_new_fernet_key_and_old_ones_still_read(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    account = _account()
    settings.FERNET_KEYS = [new, old]
    crypto._fernet.cache_clear()
    assert ProviderAccount.objects.get().get_key() == SECRET  # old ciphertext, new key list
    out = StringIO()
    call_command("rotate_keys", stdout=out)
    assert "Re-encrypted 1" in out.getvalue()
    settings.FERNET_KEYS = [new]  # the old key can now go
    crypto._fernet.cache_clear()
    assert ProviderAccount.objects.get(pk=account.pk).get_key() == SECRET


def test_a_key_encrypted_with_a_removed_fernet_key_is_a_clear_error(settings):
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    account = _account()
    settings.FERNET_KEYS = [Fernet.generate_key().decode()]
    crypto._fernet.cache_clear()
    with pytest.raises(crypto.KeyDecryptionError, match="cannot be decrypted"):
        ProviderAccount.objects.get(pk=account.pk).get_key()


def test_a_new_key_clears_needs_attention():
    account = _account(status=ProviderAccount.Status.NEEDS_ATTENTION, status_message="revoked")
    account.set_key("sk-admin-a-brand-new-key-0000")
    assert account.status == ProviderAccount.Status.NEW and account.status_message == ""


def test_the_admin_form_never_renders_the_key(client, alice):
    account = _account()
    client.force_login(alice)
    page = client.get(reverse("admin:providers_provideraccount_change", args=[account.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert SECRET not in html and account.encrypted_key not in html
    assert "sk-…abcd" in html  # the mask is shown
    listing = client.get(reverse("admin:providers_provideraccount_changelist")).content.decode()
    assert SECRET not in listing and "sk-…abcd" in listing


def test_adding_an_account_in_the_admin_encrypts_the_key(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("admin:providers_provideraccount_add"),
        {
            "provider": "openai",
            "name": "prod",
            "base_url": "",
            "api_key": SECRET,
            "enabled": "on",
            "backfill_days": "90",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ProviderAccount.objects.get(name="prod")
    assert account.get_key() == SECRET and SECRET not in _stored_column(account)


def test_a_new_account_without_a_key_is_refused(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("admin:providers_provideraccount_add"),
        {
            "provider": "openai",
            "name": "prod",
            "base_url": "",
            "api_key": "",
            "backfill_days": "90",
        },
    )
    assert response.status_code == 200
    assert "A new account needs its admin API key." in response.content.decode()
    assert not ProviderAccount.objects.exists()


def test_saving_without_a_key_keeps_the_stored_one(client, alice):
    account = _account()
    client.force_login(alice)
    client.post(
        reverse("admin:providers_provideraccount_change", args=[account.pk]),
        {
            "provider": "openai",
            "name": "renamed",
            "base_url": "",
            "api_key": "",
            "enabled": "on",
            "backfill_days": "30",
        },
    )
    account.refresh_from_db()
    assert account.name == "renamed" and account.get_key() == SECRET


def test_finance_users_cannot_open_provider_accounts(client, bob):
    client.force_login(bob)
    response = client.get(reverse("admin:providers_provideraccount_changelist"))
    assert response.status_code == 302  # to the admin login: staff only


@pytest.mark.parametrize(
    ("key", "expected"),
    [(DEFAULT_OPENAI_KEY, "success"), ("sk-admin-wrong-key-9999", "error")],
)
def test_the_test_connection_action_reports_each_outcome(client, alice, key, expected):
    with FakeProviderServer(seed=1, days=3) as fake:
        account = _account(key=key, base_url=fake.openai_base_url)
        client.force_login(alice)
        response = client.post(
            reverse("admin:providers_provideraccount_changelist"),
            {"action": "test_connection", "_selected_action": [account.pk]},
            follow=True,
        )
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert len(messages) == 1
    level, text = messages[0]
    assert level == expected, text
    assert key not in text
    if expected == "error":
        assert "acme:" in text and ("401" in text or "rejected" in text.lower())
