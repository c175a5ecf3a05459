"""The provider admin as a newcomer meets it: buttons on an account's own page that need the
right to change it, a base URL field wide enough for a URL, plural names spelled right."""

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from spendapp.providers.fake import DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage import tasks
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _account(base_url="https://api.openai.com/v1", key=DEFAULT_OPENAI_KEY) -> ProviderAccount:
    account = ProviderAccount(name="acme", provider="openai", base_url=base_url)
    account.set_key(key)
    account.save()
    return account


def _change_url(account) -> str:
    return reverse("admin:providers_provideraccount_change", args=[account.pk])


def test_the_account_page_tests_the_connection_and_shows_the_result_there(client, alice):
    with FakeProviderServer(seed=1, days=3) as fake:
        account = _account(base_url=fake.openai_base_url)
        client.force_login(alice)
        page = client.get(_change_url(account)).content.decode()
        assert 'id="test-connection"' in page and 'id="sync-now"' in page
        url = reverse("admin:providers_provideraccount_test_connection", args=[account.pk])
        response = client.post(url, follow=True)
    assert response.redirect_chain == [(_change_url(account), 302)]
    messages = [(m.level_tag, str(m)) for m in response.context["messages"]]
    assert len(messages) == 1 and messages[0][0] == "success", messages
    assert DEFAULT_OPENAI_KEY not in response.content.decode()


def test_sync_now_on_the_account_page_queues_one_sync(client, alice, monkeypatch):
    queued = []
    monkeypatch.setattr(tasks.sync_account, "delay", lambda *a, **kw: queued.append((a, kw)))
    account = _account()
    client.force_login(alice)
    url = reverse("admin:providers_provideraccount_sync_now", args=[account.pk])
    response = client.post(url, follow=True)
    assert queued == [((account.pk,), {"trigger": "admin"})]
    assert "sync queued" in str(next(iter(response.context["messages"])))
    assert client.get(url).status_code == 405  # a button, never a link


def test_a_staff_user_who_may_only_view_accounts_gets_no_buttons_and_a_refusal(client):
    viewer = User.objects.create_user("vera", "vera@example.com", PASSWORD, is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_provideraccount"))
    account = _account()
    client.force_login(viewer)
    page = client.get(_change_url(account)).content.decode()
    assert 'id="test-connection"' not in page and 'id="sync-now"' not in page
    for name in ("test_connection", "sync_now"):
        url = reverse(f"admin:providers_provideraccount_{name}", args=[account.pk])
        assert client.post(url).status_code == 403, name


def test_admin_labels_and_widths_read_right(client, alice):
    client.force_login(alice)
    index = client.get(reverse("admin:index")).content.decode()
    assert "Provider entities" in index and "Provider entitys" not in index
    add = client.get(reverse("admin:providers_provideraccount_add")).content.decode()
    assert 'class="vURLField wide-url"' in add
    assert 'id="admin-key-help"' in add and "platform.openai.com/settings/organization" in add
    assert "css/admin." in add and "img/favicon." in add
