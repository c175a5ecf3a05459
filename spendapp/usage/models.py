"""Raw usage and cost buckets as the providers report them, and the daily rollup.

Natural keys: every grouping dimension is part of the unique constraint and is a non-null
string ("" = not grouped), so re-fetching a bucket updates its row instead of adding one.
Money is NUMERIC; times are UTC.

Size (~520 lines): every table of the usage layer (raw facts, rollups and the derived ones
their triggers keep, sync bookkeeping, price overrides, calibration ratios, model tiers) in
the one module Django and the migrations read them from.
"""

from __future__ import annotations

from django.db import models

from spendapp.providers.models import ProviderAccount

TOKEN_FIELDS = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
)
USAGE_DIMENSIONS = (
    "model",
    "project_id",
    "api_key_id",
    "user_id",
    "service_tier",
    "batch",
    "context_window",
    # Newer groupings (issue #15): OpenAI ``api_source``; Anthropic ``inference_geo``,
    # ``speed`` (fast mode) and ``service_account_id`` (its ``account_id`` is a user: user_id).
    "api_source",
    "inference_geo",
    "speed",
    "service_account_id",
)
COST_DIMENSIONS = (
    "project_id",
    "api_key_id",
    "line_item",
    "model",
    "token_type",
    "service_tier",
    "context_window",
    "cost_type",
    "inference_geo",
    "speed",
)


def _account_fact_key() -> models.ForeignKey:
    # No database-level constraint on the fact tables: a deferred FK check per row cost a
    # quarter of the ingest time (benchmarks/ingest_bench.py --explain). Ingestion locks the
    # account row (FOR KEY SHARE) once per window instead, and Django's CASCADE still removes
    # an account's facts when the account is deleted.
    return models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, db_constraint=False)


def _dimension() -> models.CharField:
    return models.CharField(max_length=200, blank=True, default="")


def _later_dimension() -> models.CharField:
    # A dimension added after the tables held data: the database default keeps raw SQL
    # writers (benchmark seeding, COPY with a column list) valid without naming it.
    return models.CharField(max_length=200, blank=True, default="", db_default="")


def _tokens() -> models.BigIntegerField:
    return models.BigIntegerField(default=0)


def _money() -> models.DecimalField:
    return models.DecimalField(max_digits=24, decimal_places=12, null=True, editable=False)


class UsageBucket(models.Model):
    """Token usage of one (usually hourly) bucket for one combination of dimensions."""

    account = _account_fact_key()
    endpoint = models.CharField(max_length=60)
    bucket_start = models.DateTimeField()
    bucket_end = models.DateTimeField()
    model = _dimension()
    project_id = _dimension()
    api_key_id = _dimension()
    user_id = _dimension()
    service_tier = _dimension()
    batch = _dimension()
    context_window = _dimension()
    api_source = _later_dimension()
    inference_geo = _later_dimension()
    speed = _later_dimension()
    service_account_id = _later_dimension()
    input_uncached_tokens = _tokens()
    input_cached_tokens = _tokens()
    cache_write_tokens = _tokens()
    cache_write_1h_tokens = _tokens()
    output_tokens = _tokens()
    input_audio_tokens = _tokens()
    output_audio_tokens = _tokens()
    requests = _tokens()
    extra = models.JSONField(default=dict, blank=True)
    # NULL = the price catalog does not know the model ("unpriced"), never a silent zero.
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # The upsert's ON CONFLICT target. bucket_start comes second so that this index
            # also serves every scan of one account's time range (rollup recomputation,
            # window replacement, the price audit): a separate (account, bucket_start) index
            # cost one more index insert per ingested row.
            models.UniqueConstraint(
                fields=["account", "bucket_start", "endpoint", *USAGE_DIMENSIONS],
                name="usagebucket_natural_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.bucket_start:%Y-%m-%d %H:%M} {self.model}"


class CostLineItem(models.Model):
    """Billed cost of one daily bucket for one line item, in currency units."""

    account = _account_fact_key()
    endpoint = models.CharField(max_length=60)
    bucket_start = models.DateTimeField()
    bucket_end = models.DateTimeField()
    project_id = _dimension()
    api_key_id = _dimension()
    line_item = models.CharField(max_length=300, blank=True, default="")
    model = _dimension()
    token_type = _dimension()
    service_tier = _dimension()
    context_window = _dimension()
    cost_type = _dimension()
    inference_geo = _later_dimension()
    speed = _later_dimension()
    amount = models.DecimalField(max_digits=24, decimal_places=12)
    currency = models.CharField(max_length=3)
    quantity = models.DecimalField(max_digits=24, decimal_places=6, null=True)
    quantity_unit = models.CharField(max_length=40, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "endpoint", "bucket_start", *COST_DIMENSIONS],
                name="costlineitem_natural_key",
            )
        ]
        indexes = [
            models.Index(fields=["account", "bucket_start"], name="costlineitem_account_time"),
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} {self.bucket_start:%Y-%m-%d} {self.line_item} {self.amount}"


class SpendFacts(models.Model):
    """What both rollups hold: the reporting dimensions and the summed measures."""

    account = _account_fact_key()
    provider = models.CharField(max_length=32)
    project_id = _dimension()
    model = _dimension()
    api_key_id = _dimension()
    user_id = _dimension()
    input_uncached_tokens = _tokens()
    input_cached_tokens = _tokens()
    cache_write_tokens = _tokens()
    cache_write_1h_tokens = _tokens()
    output_tokens = _tokens()
    requests = _tokens()
    unpriced_tokens = _tokens()
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)

    class Meta:
        abstract = True


class DailySpend(SpendFacts):
    """Rollup: day x account x project x model x API key x user, kept current at ingest.

    Dashboards, ``manage.py spend`` and forecasts read this table, never the raw ones.
    ``billed_cost`` is NULL where the provider billed nothing at that grain (e.g. Anthropic
    bills per workspace and model, not per key); ``estimated_cost`` is NULL where nothing in
    the row could be priced, and ``unpriced_tokens`` counts tokens of unknown models.
    """

    day = models.DateField()
    billed_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    # Kept by PostgreSQL (`spendapp.usage.spend`, the rule; `usage_refresh_spend`, the SQL):
    # the list estimate x the account x model calibration ratio, and spend, the one number.
    calibrated_cost = _money()
    spend = _money()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "project_id", "model", "api_key_id", "user_id"],
                name="dailyspend_natural_key",
            )
        ]
        indexes = [
            # Date-range scans of every dashboard query, then per-provider filters.
            models.Index(fields=["day", "provider"], name="dailyspend_day_provider"),
            models.Index(fields=["account", "day"], name="dailyspend_account_day"),
            # One project's or key's history (explorer filters, per-key budgets).
            models.Index(fields=["project_id", "day"], name="dailyspend_project_day"),
            models.Index(fields=["api_key_id", "day"], name="dailyspend_api_key_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.project_id} {self.model}"


class HourlySpend(SpendFacts):
    """Rollup at hour grain for the explorer's hourly view: usage and estimated cost only
    (providers bill per day, so there is no billed cost per hour)."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "account", "project_id", "model", "api_key_id", "user_id"],
                name="hourlyspend_natural_key",
            )
        ]
        indexes = [
            # Hourly explorer queries: a time range, then provider filters.
            models.Index(fields=["hour", "provider"], name="hourlyspend_hour_provider"),
            models.Index(fields=["account", "hour"], name="hourlyspend_account_hour"),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H:00} {self.provider} {self.model}"


class SyncWatermark(models.Model):
    """How far an endpoint of an account is synced. Moves only after rows are committed."""

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE)
    endpoint = models.CharField(max_length=60)
    synced_until = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "endpoint"], name="watermark_natural_key")
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.endpoint} until {self.synced_until}"


class SyncRun(models.Model):
    class Outcome(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Partial (some windows failed)"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.RUNNING)
    windows = models.PositiveIntegerField(default=0)
    windows_failed = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    rows_inserted = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_deleted = models.PositiveIntegerField(default=0)
    range_start = models.DateTimeField(null=True, blank=True)
    range_end = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Something the sync did differently from the usual without failing, one per line (e.g.
    # Anthropic's analytics API refused, so the legacy reports were read). Never holds a key.
    warnings = models.TextField(blank=True, default="")
    trigger = models.CharField(max_length=20, default="schedule")

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["account", "-started_at"], name="syncrun_account_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.started_at:%Y-%m-%d %H:%M} {self.outcome}"

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


class PriceOverride(models.Model):
    """A negotiated or corrected price that wins over the catalog. Prices per million tokens."""

    provider = models.CharField(max_length=32)
    model_pattern = models.CharField(
        max_length=200, help_text="Model name, or a glob such as gpt-5.5* (case-insensitive)."
    )
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Exclusive; empty = open.")
    input_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    cached_input_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    cache_write_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    cache_write_1h_per_mtok = models.DecimalField(
        max_digits=14, decimal_places=6, null=True, blank=True
    )
    output_per_mtok = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["provider", "model_pattern", "-valid_from"]

    def __str__(self) -> str:
        return f"{self.provider} {self.model_pattern} from {self.valid_from}"


# --- Derived rollups --------------------------------------------------------------------------
# DailySpend holds one row per day and (project, model, API key, user): a year of it is
# hundreds of thousands of rows on a busy organisation. Most questions need fewer dimensions,
# so smaller tables are derived from it, kept current by PostgreSQL triggers on DailySpend in
# the same transaction (see `spendapp.usage.cubes`, whose `rollup_for` picks the smallest one
# that holds every dimension a query groups or filters by). Sums of sums are exact, and
# ``billed_cost`` stays NULL exactly where every DailySpend row under it is NULL.


class DerivedRollup(models.Model):
    """A day, an account and the measures of DailySpend, summed; each derived table adds the
    dimensions it keeps."""

    day = models.DateField()
    account = _account_fact_key()
    provider = models.CharField(max_length=32)
    input_uncached_tokens = _tokens()
    input_cached_tokens = _tokens()
    cache_write_tokens = _tokens()
    cache_write_1h_tokens = _tokens()
    output_tokens = _tokens()
    requests = _tokens()
    unpriced_tokens = _tokens()
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    billed_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    calibrated_cost = _money()
    spend = _money()

    class Meta:
        abstract = True


class DailyModelSpend(DerivedRollup):
    """DailySpend summed per day x account x model (projects, keys and users folded in)."""

    model = _dimension()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "model"], name="dailymodelspend_natural_key"
            )
        ]
        indexes = [models.Index(fields=["account", "day"], name="dailymodelspend_account_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.model}"


class DailyProjectSpend(DerivedRollup):
    """DailySpend summed per day x account x project (models, keys and users folded in)."""

    project_id = _dimension()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "project_id"], name="dailyprojectspend_natural_key"
            )
        ]
        indexes = [
            models.Index(fields=["account", "day"], name="dailyprojectspend_account_day"),
            models.Index(fields=["project_id", "day"], name="dailyprojectspend_project_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.project_id}"


class DailyProjectModelSpend(DerivedRollup):
    """DailySpend summed per day x account x project x model (keys and users folded in)."""

    project_id = _dimension()
    model = _dimension()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "project_id", "model"],
                name="dailyprojectmodelspend_natural_key",
            )
        ]
        indexes = [
            models.Index(fields=["account", "day"], name="dailyprojectmodel_account_day"),
            # One project's history (forecast series, project budgets, explorer filters).
            models.Index(fields=["project_id", "day"], name="dailyprojectmodel_project_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.project_id} {self.model}"


class DailyKeySpend(DerivedRollup):
    """DailySpend summed per day x account x project x API key (models and users folded in):
    the per-key views, a fraction of DailySpend's rows."""

    project_id = _dimension()
    api_key_id = _dimension()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "account", "project_id", "api_key_id"],
                name="dailykeyspend_natural_key",
            )
        ]
        indexes = [
            models.Index(fields=["account", "day"], name="dailykeyspend_account_day"),
            models.Index(fields=["project_id", "day"], name="dailykeyspend_project_day"),
            models.Index(fields=["api_key_id", "day"], name="dailykeyspend_api_key_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.project_id} {self.api_key_id}"


class DailyUsageDetail(models.Model):
    """Usage per day x account x project x model and the usage-only dimensions (service tier,
    batch, OpenAI ``api_source``, Anthropic ``inference_geo``/``speed``/service account):
    the explorer's groupings and filters on them. Rebuilt from UsageBucket with the daily
    rollup (`spendapp.usage.ingest.refresh_rollup`). Providers bill none of these dimensions,
    so there is no billed cost: spend here is the calibrated estimate."""

    day = models.DateField()
    account = _account_fact_key()
    provider = models.CharField(max_length=32)
    project_id = _dimension()
    model = _dimension()
    service_tier = _dimension()
    batch = _dimension()
    api_source = _dimension()
    inference_geo = _dimension()
    speed = _dimension()
    service_account_id = _dimension()
    input_uncached_tokens = _tokens()
    input_cached_tokens = _tokens()
    cache_write_tokens = _tokens()
    cache_write_1h_tokens = _tokens()
    output_tokens = _tokens()
    requests = _tokens()
    unpriced_tokens = _tokens()
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "account",
                    "project_id",
                    "model",
                    "service_tier",
                    "batch",
                    "api_source",
                    "inference_geo",
                    "speed",
                    "service_account_id",
                ],
                name="dailyusagedetail_natural_key",
            )
        ]
        indexes = [
            # The explorer's date-range scans; the rollup refresh replaces (account, days).
            models.Index(fields=["day", "provider"], name="dailyusagedetail_day_provider"),
            models.Index(fields=["account", "day"], name="dailyusagedetail_account_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.model} {self.service_tier} {self.speed}"


class ClaudeCodeUsage(models.Model):
    """Anthropic's Claude Code usage report: one row per actor, day, terminal and local or
    remote session. Activity, not spend: its estimated cost is already in the cost report
    for API customers, so nothing here enters the spend rollups."""

    account = _account_fact_key()
    day = models.DateField()
    actor_type = models.CharField(max_length=20)
    actor = models.CharField(max_length=300)
    terminal_type = _dimension()
    is_remote = models.BooleanField(default=False)
    customer_type = models.CharField(max_length=20, blank=True, default="")
    subscription_type = models.CharField(max_length=20, blank=True, default="")
    sessions = models.IntegerField(default=0)
    lines_added = models.BigIntegerField(default=0)
    lines_removed = models.BigIntegerField(default=0)
    commits = models.IntegerField(default=0)
    pull_requests = models.IntegerField(default=0)
    input_tokens = _tokens()
    output_tokens = _tokens()
    cache_read_tokens = _tokens()
    cache_creation_tokens = _tokens()
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12)
    currency = models.CharField(max_length=3, default="USD")
    models_used = models.JSONField(default=dict, blank=True)
    tool_actions = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "day", "actor_type", "actor", "terminal_type", "is_remote"],
                name="claudecodeusage_natural_key",
            )
        ]
        indexes = [
            # The Claude Code view: a date range, all accounts.
            models.Index(fields=["day"], name="claudecodeusage_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.actor} {self.terminal_type}"


class SpendCombination(models.Model):
    """Each combination of reporting dimensions seen in a calendar month: the explorer's
    filter choices for a date range without scanning a year of DailySpend. ``days`` counts
    the DailySpend rows (one per day) behind it; the row goes when the count reaches 0."""

    month = models.DateField(help_text="First day of the month.")
    account = _account_fact_key()
    provider = models.CharField(max_length=32)
    project_id = _dimension()
    model = _dimension()
    api_key_id = _dimension()
    user_id = _dimension()
    days = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "account", "project_id", "model", "api_key_id", "user_id"],
                name="spendcombination_natural_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.provider} {self.project_id} {self.model}"


# --- Model tiers ------------------------------------------------------------------------------
# Price bands (small / mid / frontier) and explicit overrides: `spendapp.usage.tiers` applies
# them. They live with pricing because every layer above (explorer, budgets, forecasts,
# scenarios) needs the same tiers.


class ModelTier(models.Model):
    """A price band: models whose blended price is below ``max_blended_per_mtok`` (and not
    below a cheaper band's) belong to this tier. Empty maximum = no upper bound."""

    class Name(models.TextChoices):
        SMALL = "small", "Small"
        MID = "mid", "Mid"
        FRONTIER = "frontier", "Frontier"

    name = models.CharField(max_length=20, choices=Name.choices, unique=True)
    max_blended_per_mtok = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Upper bound (exclusive) of the blended price, $ per million tokens, "
        "blended as 3 input : 1 output. Empty = no upper bound.",
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = [models.F("max_blended_per_mtok").asc(nulls_last=True)]

    def __str__(self) -> str:
        bound = self.max_blended_per_mtok
        return f"{self.name} (< ${bound}/Mtok)" if bound is not None else f"{self.name}"


class ModelTierOverride(models.Model):
    """An explicit tier for models matching a pattern; wins over the price bands."""

    provider = models.CharField(max_length=32)
    model_pattern = models.CharField(
        max_length=200, help_text="Model name, or a glob such as gpt-5.4-mini* (case-insensitive)."
    )
    tier = models.CharField(max_length=20, choices=ModelTier.Name.choices)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["provider", "model_pattern"]

    def __str__(self) -> str:
        return f"{self.provider} {self.model_pattern} -> {self.tier}"


class CalibrationRatio(models.Model):
    """How the bill relates to the list estimate, per account x model x day: the ratio of
    billed to list-estimated cost over the reconciled days in the window before that day
    (`spendapp.usage.calibration`). The calibrated estimate of a row is its list estimate
    times this ratio; a row without one keeps its list estimate (basis "list")."""

    class Basis(models.TextChoices):
        MODEL = "model", "this model's bills"
        ACCOUNT = "account", "the account's bills, all models"

    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE)
    model = _dimension()
    day = models.DateField()
    ratio = models.DecimalField(max_digits=14, decimal_places=8)
    basis = models.CharField(max_length=8, choices=Basis.choices)
    days = models.PositiveIntegerField(help_text="Reconciled days behind the ratio.")
    billed = models.DecimalField(max_digits=24, decimal_places=12)
    estimated = models.DecimalField(max_digits=24, decimal_places=12)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "model", "day"], name="calibrationratio_natural_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model}: x{self.ratio} ({self.basis})"


# Prepaid credits live in their own module; imported here so Django and migrations see them.
from spendapp.usage.credit_models import (  # noqa: E402, F401
    CreditBalance,
    CreditEntry,
    ExchangeRate,
)
