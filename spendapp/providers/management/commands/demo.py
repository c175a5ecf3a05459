"""`manage.py demo`: the demo organisation's provider accounts, pointing at the fake server, and
a monthly budget whose alerts go to the admins, so a newcomer sees an alert email arrive (in
``var/mail/`` unless a mail server is set)."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, deepseek, openrouter
from spendapp.providers.models import ProviderAccount

DEMO_ACCOUNTS = (
    ("Demo OpenAI", "openai", "/openai/v1", DEFAULT_OPENAI_KEY),
    ("Demo Anthropic", "anthropic", "/anthropic", DEFAULT_ANTHROPIC_KEY),
    ("Demo OpenRouter", "openrouter", openrouter.PREFIX, openrouter.DEFAULT_KEY),
    ("Demo DeepSeek", "deepseek", deepseek.PREFIX, deepseek.DEFAULT_KEY),
)


class Command(BaseCommand):
    help = (
        "Create (or re-point) one demo provider account per provider the fake serves, at a "
        "running fake server, and a demo budget whose alerts go to the admin users."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fake-url", default="http://127.0.0.1:8765")
        parser.add_argument("--backfill-days", type=int, default=120)

    def handle(self, *args, **options):
        base = options["fake_url"].rstrip("/")
        for name, provider, path, key in DEMO_ACCOUNTS:
            account = ProviderAccount.objects.filter(name=name).first()
            if account is None:
                account = ProviderAccount(name=name, provider=provider)
            account.base_url = base + path
            account.backfill_days = options["backfill_days"]
            account.enabled = True
            account.set_key(key)
            account.save()
            self.stdout.write(f"{name}: {account.base_url}")
        # By name, not by import: budgets sit above providers (the demo budget is theirs).
        call_command("demo_budget", stdout=self.stdout)
