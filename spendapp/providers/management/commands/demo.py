"""`manage.py demo`: the demo organisation's provider accounts (with ``--clouds`` also Azure
OpenAI and AWS Bedrock), pointing at the fake server, and
a monthly budget whose alerts go to the admins, so a newcomer sees an alert email arrive (in
``var/mail/`` unless a mail server is set)."""

import json

from django.core.management import call_command
from django.core.management.base import BaseCommand

from spendapp.providers.fake import (
    DEFAULT_ANTHROPIC_KEY,
    DEFAULT_OPENAI_KEY,
    azure,
    bedrock,
    deepseek,
    fireworks,
    openrouter,
)
from spendapp.providers.fake.clouds import has_moto
from spendapp.providers.models import ProviderAccount

DEMO_ACCOUNTS = (
    ("Demo OpenAI", "openai", "/openai/v1", DEFAULT_OPENAI_KEY),
    ("Demo Anthropic", "anthropic", "/anthropic", DEFAULT_ANTHROPIC_KEY),
    ("Demo OpenRouter", "openrouter", openrouter.PREFIX, openrouter.DEFAULT_KEY),
    ("Demo DeepSeek", "deepseek", deepseek.PREFIX, deepseek.DEFAULT_KEY),
    ("Demo Fireworks AI", "fireworks", fireworks.PREFIX, fireworks.DEFAULT_KEY),
)
# Settings of the demo accounts that need more than a key and a URL.
DEMO_SETTINGS = {"fireworks": {"account_id": fireworks.ACCOUNT_ID}}
# The clouds, served by a fake started with clouds on (``fakeproviders`` without --no-clouds):
# name, provider, path, key, settings.
CLOUD_ACCOUNTS = (
    (
        "Demo AWS Bedrock",
        "bedrock",
        "/aws-s3",
        json.dumps(bedrock.ACCESS_KEY),
        {"bucket": bedrock.BUCKET, "prefix": bedrock.PREFIX, "export_name": bedrock.EXPORT_NAME},
    ),
    (
        "Demo Azure OpenAI",
        "azure_openai",
        "/azure",
        azure.CLIENT_SECRET,
        {
            "tenant_id": azure.TENANT_ID,
            "client_id": azure.CLIENT_ID,
            "scope": azure.SCOPE,
            "authority": "{fake}/azure/login",
        },
    ),
)


class Command(BaseCommand):
    help = (
        "Create (or re-point) one demo provider account per provider the fake serves, at a "
        "running fake server, and a demo budget whose alerts go to the admin users."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fake-url", default="http://127.0.0.1:8765")
        parser.add_argument("--backfill-days", type=int, default=120)
        parser.add_argument(
            "--clouds",
            action="store_true",
            help="also the Azure OpenAI and AWS Bedrock accounts (the fake must serve clouds; "
            "Bedrock needs moto, from the embedded extra)",
        )

    def handle(self, *args, **options):
        base = options["fake_url"].rstrip("/")
        accounts = [(*a, DEMO_SETTINGS.get(a[1], {})) for a in DEMO_ACCOUNTS]
        if options["clouds"]:
            accounts += [a for a in CLOUD_ACCOUNTS if a[1] != "bedrock" or has_moto()]
        for name, provider, path, key, settings in accounts:
            account = ProviderAccount.objects.filter(name=name).first()
            if account is None:
                account = ProviderAccount(name=name, provider=provider)
            account.base_url = base + path
            account.backfill_days = options["backfill_days"]
            account.enabled = True
            account.settings = {k: v.replace("{fake}", base) for k, v in settings.items()}
            account.set_key(key)
            account.save()
            self.stdout.write(f"{name}: {account.base_url}")
        # By name, not by import: budgets sit above providers (the demo budget is theirs).
        call_command("demo_budget", stdout=self.stdout)
