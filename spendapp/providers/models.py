"""Provider accounts: where to read usage and billing, with the admin key encrypted at rest."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from spendapp.providers import crypto

PROVIDER_CHOICES = [
    ("openai", "OpenAI"),
    ("anthropic", "Anthropic"),
    ("openrouter", "OpenRouter"),
    ("fireworks", "Fireworks AI"),
    ("deepseek", "DeepSeek"),
    ("bedrock", "AWS Bedrock (Cost and Usage Report)"),
    ("azure_openai", "Azure OpenAI (Cost Management)"),
    # Costs imported from FOCUS CSV files (clouds, providers without an API): never synced.
    ("focus", "FOCUS CSV import"),
]
SYNCABLE_PROVIDERS = (
    "openai",
    "anthropic",
    "openrouter",
    "fireworks",
    "deepseek",
    "bedrock",
    "azure_openai",
)
# Providers whose API reports a prepaid balance but no usage: their spend is the balance's fall.
BALANCE_ONLY_PROVIDERS = ("deepseek",)
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "openrouter": "https://openrouter.ai/api/v1",
    "fireworks": "https://api.fireworks.ai",
    "deepseek": "https://api.deepseek.com",
    # Bedrock reads CUR 2.0 files from S3: empty means AWS's own S3 endpoint for the region.
    "bedrock": "",
    "azure_openai": "https://management.azure.com",
    "focus": "",
}


class ProviderAccount(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "Never synced"
        OK = "ok", "OK"
        FAILING = "failing", "Last sync failed"
        NEEDS_ATTENTION = "needs_attention", "Needs attention (key rejected)"

    provider = models.CharField(max_length=32, choices=PROVIDER_CHOICES)
    name = models.CharField(max_length=100, unique=True)
    base_url = models.URLField(
        max_length=300,
        blank=True,
        help_text="Leave empty for the provider's own API. Set it for a proxy, a regional "
        "endpoint or the fake provider server.",
    )
    encrypted_key = models.TextField(editable=False)
    key_hint = models.CharField(max_length=20, editable=False, blank=True)
    key_changed_at = models.DateTimeField(default=timezone.now, editable=False)
    # Non-secret connection settings a provider needs beyond its key (an S3 bucket and prefix,
    # an Azure tenant, client and scope): each connector documents and validates its own.
    settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Provider-specific settings that are not secret (see docs/providers/).",
    )
    enabled = models.BooleanField(default=True)
    backfill_days = models.PositiveIntegerField(
        default=90, help_text="How far back the first sync reads."
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.NEW, editable=False
    )
    status_message = models.TextField(blank=True, editable=False)
    last_sync_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_success_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def api_base_url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.provider]).rstrip("/")

    def set_key(self, plaintext: str) -> None:
        """Store a new key; a new key also clears a "needs attention" state."""
        self.encrypted_key = crypto.encrypt(plaintext)
        self.key_hint = crypto.mask(plaintext)
        self.key_changed_at = timezone.now()
        if self.status == self.Status.NEEDS_ATTENTION:
            self.status = self.Status.NEW
            self.status_message = ""

    def get_key(self) -> str:
        return crypto.decrypt(self.encrypted_key)


class ProviderEntity(models.Model):
    """Display names for the ids that usage rows carry (projects, workspaces, keys, users)."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="entities")
    kind = models.CharField(max_length=20)  # project / api_key / user
    external_id = models.CharField(max_length=200)
    name = models.CharField(max_length=300, blank=True)
    parent_id = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "provider entities"
        constraints = [
            models.UniqueConstraint(
                fields=["account", "kind", "external_id"], name="providerentity_natural_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.name or self.external_id}"
