"""Adding a Bedrock or Azure OpenAI account in the admin: the settings and the shape of the
two-part credential are checked with errors that name the field, and the secret never shows."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from spendapp.providers.fake.azure import CLIENT_ID, SCOPE, TENANT_ID
from spendapp.providers.models import ProviderAccount

pytestmark = pytest.mark.django_db
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
CREDENTIAL = json.dumps({"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": AWS_SECRET})
BEDROCK = {"bucket": "acme-cur", "prefix": "cur2", "export_name": "acme"}


def _add(client, provider, key, settings):
    return client.post(
        reverse("admin:providers_provideraccount_add"),
        {
            "provider": provider,
            "name": f"{provider} prod",
            "base_url": "",
            "api_key": key,
            "settings": json.dumps(settings),
            "enabled": "on",
            "backfill_days": "90",
        },
    )


def test_a_bedrock_account_stores_its_json_credential_encrypted_and_its_settings(client, alice):
    client.force_login(alice)
    response = _add(client, "bedrock", CREDENTIAL, BEDROCK)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = ProviderAccount.objects.get(provider="bedrock")
    assert account.settings == BEDROCK and json.loads(account.get_key())["secret_access_key"]
    page = client.get(reverse("admin:providers_provideraccount_change", args=[account.pk]))
    assert AWS_SECRET not in page.content.decode()


@pytest.mark.parametrize(
    ("key", "settings", "message"),
    [
        (f"AKIAIOSFODNN7EXAMPLE:{AWS_SECRET}", BEDROCK, "expected JSON"),
        (CREDENTIAL, {"prefix": "cur2", "export_name": "acme"}, "bucket: the S3 bucket"),
        (CREDENTIAL, {**BEDROCK, "bukket": "x"}, "unknown setting(s): bukket"),
    ],
)
def test_a_bad_bedrock_credential_or_setting_is_a_form_error(client, alice, key, settings, message):
    client.force_login(alice)
    response = _add(client, "bedrock", key, settings)
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page.replace("&#x27;", "'")
    assert AWS_SECRET not in page
    assert not ProviderAccount.objects.exists()


def test_an_azure_account_needs_tenant_client_and_scope(client, alice):
    client.force_login(alice)
    response = _add(client, "azure_openai", "a-client-secret-value", {"tenant_id": TENANT_ID})
    assert response.status_code == 200 and "client_id: expected a GUID" in response.content.decode()
    settings = {"tenant_id": TENANT_ID, "client_id": CLIENT_ID, "scope": SCOPE}
    response = _add(client, "azure_openai", "a-client-secret-value", settings)
    assert response.status_code == 302
    assert ProviderAccount.objects.get(provider="azure_openai").settings == settings
