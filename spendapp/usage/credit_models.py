"""Prepaid credits: balances the providers report, entries Finance makes, conversion rates.

* `CreditBalance`: one row per sync and currency where the provider reports a balance
  (OpenRouter credits, DeepSeek's balance per currency); the history is the balance over time.
* `CreditEntry`: what Finance enters for the others (and on top of any): a top-up, a credit
  grant, or a statement of the balance on a day (a fresh starting point).
* `ExchangeRate`: the rate Finance enters for a currency other than the organisation's; the
  newest one valid on a day applies. Spendapp never looks a rate up on the network.

Imported by `spendapp.usage.models` so Django and the migrations see them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from spendapp.providers.models import ProviderAccount


class CreditBalance(models.Model):
    """A balance as the provider reported it at ``observed_at``, in its own currency."""

    account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="credit_balances"
    )
    observed_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    granted = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    topped_up = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    available = models.BooleanField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-observed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "currency", "observed_at"], name="creditbalance_once"
            )
        ]
        indexes = [
            # The latest balance of an account (runway, overview card, admin list).
            models.Index(
                fields=["account", "currency", "-observed_at"], name="creditbalance_latest"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.amount} {self.currency} at {self.observed_at:%Y-%m-%d %H:%M}"


class CreditEntry(models.Model):
    """A top-up, a credit grant or a balance statement, entered by Finance."""

    class Kind(models.TextChoices):
        TOP_UP = "top_up", "Top-up (paid)"
        GRANT = "grant", "Credit grant"
        STATEMENT = "statement", "Balance statement (the balance on that day)"

    account = models.ForeignKey(
        ProviderAccount, on_delete=models.CASCADE, related_name="credit_entries"
    )
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.TOP_UP)
    day = models.DateField(
        help_text="The day it took effect (a statement: the balance at the end of that day)."
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    expires_on = models.DateField(
        null=True, blank=True, help_text="Credit grants only: the day the grant expires."
    )
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-day", "-created_at"]
        verbose_name_plural = "credit entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0) | Q(kind="statement", amount__gte=0),
                name="creditentry_amount_positive",
            ),
        ]
        indexes = [models.Index(fields=["account", "day"], name="creditentry_account_day")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.currency} on {self.day}"


class ExchangeRate(models.Model):
    """One unit of ``currency`` is worth ``rate`` units of the organisation's currency from
    ``valid_from`` on (until a newer rate)."""

    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    valid_from = models.DateField(default=timezone.localdate)
    note = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="exchangerate_once"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchangerate_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.currency} = {self.rate} {settings.ORG_CURRENCY} from {self.valid_from}"
