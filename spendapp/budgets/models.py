"""Budgets, the alert events they raise (claimed exactly once) and the delivery log.

Exactly once: an ``AlertEvent`` row is *inserted* before anything is sent; its unique
constraint decides which evaluator won, so two evaluators at once, or a retried evaluation,
never notify twice. Each ``Notification`` (one recipient, one channel) is then delivered by a
Celery task that claims it with a conditional UPDATE and writes one ``DeliveryAttempt`` per try.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

DEFAULT_THRESHOLDS = (50, 80, 100)


def default_thresholds() -> list[int]:
    return list(DEFAULT_THRESHOLDS)


def default_currency() -> str:
    return settings.ORG_CURRENCY


class Budget(models.Model):
    class Scope(models.TextChoices):
        ORG = "org", "Whole organisation"
        PROVIDER = "provider", "Provider"
        PROJECT = "project", "Project / workspace"
        TIER = "tier", "Model tier"
        API_KEY = "api_key", "API key"
        TEAM = "team", "Team / cost centre"

    class Period(models.TextChoices):
        MONTH = "month", "Monthly"
        QUARTER = "quarter", "Quarterly"
        YEAR = "year", "Yearly"

    class WebhookFormat(models.TextChoices):
        JSON = "json", "JSON (with a Slack-compatible text field)"
        SLACK = "slack", "Slack incoming webhook"

    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=20, choices=Scope.choices, default=Scope.ORG)
    scope_value = models.CharField(
        max_length=200,
        blank=True,
        help_text="Provider (openai), project/workspace id, model tier or API key id. "
        "Empty for the whole organisation.",
    )
    period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default=default_currency)
    thresholds = models.JSONField(
        default=default_thresholds, help_text="Percent of the amount, e.g. [50, 80, 100]."
    )
    forecast_alert = models.BooleanField(
        default=True, help_text="Alert when the forecast says the period ends over budget."
    )
    forecast_probability = models.PositiveSmallIntegerField(
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Probability (%) of ending over budget that triggers the forecast alert.",
    )
    anomaly_alert = models.BooleanField(
        default=True, help_text="Alert on a day far above the forecast (or the usual level)."
    )
    anomaly_z = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("3.5"),
        validators=[MinValueValidator(Decimal("1.0"))],
        help_text="Robust z-score above which a day is unusual when there is no forecast.",
    )
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="budget_subscriptions"
    )
    notify_groups = models.ManyToManyField(Group, blank=True, related_name="budgets")
    extra_emails = models.TextField(
        blank=True, help_text="More addresses, separated by commas or new lines."
    )
    webhook_url = models.URLField(max_length=500, blank=True)
    webhook_format = models.CharField(
        max_length=10, choices=WebhookFormat.choices, default=WebhookFormat.JSON
    )
    muted_by = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="muted_budgets"
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The last evaluation, for the budgets page (forecasts are too slow to fit per request).
    evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    eval_period_start = models.DateField(null=True, blank=True, editable=False)
    eval_spend = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, blank=True, editable=False
    )
    eval_projected = models.DecimalField(
        max_digits=20, decimal_places=6, null=True, blank=True, editable=False
    )
    eval_probability = models.FloatField(null=True, blank=True, editable=False)
    eval_crossing_date = models.DateField(null=True, blank=True, editable=False)
    eval_note = models.CharField(max_length=300, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="budget_amount_positive"),
            models.UniqueConstraint(fields=["name"], name="budget_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from spendapp.budgets.validation import validate_budget

        validate_budget(self)

    @property
    def scope_label(self) -> str:
        if self.scope == self.Scope.ORG:
            return "Whole organisation"
        if self.scope == self.Scope.TEAM:
            from spendapp.allocation.models import Team

            team = Team.objects.filter(pk=self.scope_value).first()
            return f"{self.get_scope_display()}: {team or self.scope_value}"
        return f"{self.get_scope_display()}: {self.scope_value}"

    def threshold_list(self) -> list[int]:
        return sorted({int(t) for t in self.thresholds or []})


class AlertEvent(models.Model):
    """One alert, claimed by inserting this row. The unique constraints are the de-duplication.

    ``period_start`` is the first day of the budget period for threshold and forecast alerts,
    the unusual day itself for anomalies (a one-day period) and the Monday of a digest.
    Operational alerts (provider accounts) use ``episode`` instead: the key change or last
    success they are about, so a new incident alerts again.
    """

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", "Threshold crossed"
        FORECAST = "forecast", "Forecast to exceed"
        ANOMALY = "anomaly", "Unusual spend"
        DIGEST = "digest", "Weekly digest"
        ACCOUNT_ATTENTION = "account_attention", "Provider key rejected"
        ACCOUNT_STALE = "account_stale", "Provider not synced"
        CREDIT_RUNWAY = "credit_runway", "Prepaid credits running out"

    budget = models.ForeignKey(
        Budget, null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    account = models.ForeignKey(
        "providers.ProviderAccount",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alerts",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    period_start = models.DateField(null=True, blank=True)
    threshold = models.PositiveSmallIntegerField(default=0)
    episode = models.CharField(max_length=64, blank=True)
    # False: claimed together with a higher threshold in the same evaluation, which was sent.
    notified = models.BooleanField(default=True)
    spend = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    budget_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    projected = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    probability = models.FloatField(null=True, blank=True)
    crossing_date = models.DateField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["budget", "period_start", "kind", "threshold"],
                condition=Q(budget__isnull=False),
                name="alertevent_budget_once",
            ),
            models.UniqueConstraint(
                fields=["account", "kind", "episode"],
                condition=Q(account__isnull=False),
                name="alertevent_account_once",
            ),
            # The weekly digest: one per Monday.
            models.UniqueConstraint(
                fields=["kind", "period_start"],
                condition=Q(budget__isnull=True, account__isnull=True),
                name="alertevent_org_once",
            ),
        ]
        indexes = [
            # Overview banners: unacknowledged alerts, newest first.
            models.Index(
                fields=["-created_at"],
                condition=Q(acknowledged_at__isnull=True),
                name="alertevent_open_recent",
            ),
        ]

    def __str__(self) -> str:
        subject = self.budget or self.account or "organisation"
        return f"{self.get_kind_display()} · {subject} · {self.period_start or self.episode}"

    @property
    def percent(self) -> Decimal | None:
        if self.spend is None or not self.budget_amount:
            return None
        return (self.spend / self.budget_amount * 100).quantize(Decimal("0.1"))


class Notification(models.Model):
    """One message to one recipient on one channel: the outbound log shown in the admin."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Failed, will retry"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed (gave up)"

    event = models.ForeignKey(
        AlertEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    budget = models.ForeignKey(
        Budget, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.EMAIL)
    recipient = models.CharField(max_length=500)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "channel", "recipient"],
                condition=Q(event__isnull=False),
                name="notification_once_per_recipient",
            ),
        ]
        indexes = [
            # Data-health failures and the re-queue of pending rows filter on status first.
            models.Index(fields=["status", "-created_at"], name="notification_status_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.recipient}: {self.subject} ({self.status})"


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="delivery_attempts"
    )
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["notification", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "number"], name="deliveryattempt_number_once"
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.number}: {'ok' if self.ok else self.error[:60]}"
