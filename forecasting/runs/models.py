"""Stored forecasts and how they fared, model tiers, saved scenarios.

A `ForecastRun` holds one `SeriesForecast` per series x measure, each with its daily
`ForecastPoint`s; the total of a run is the series with provider = model = project_id = "".
`ForecastCheck` compares a stored forecast with the actuals that arrived since.
Money is NUMERIC (Decimal); token forecasts share the columns (they fit in the same type).
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import slugify

from forecasting.errors import ScenarioError
from forecasting.scenario_spec import validate_spec

SPEND = "spend"
MEASURE_CHOICES = [
    (SPEND, "Spend"),
    ("input_tokens", "Input tokens"),
    ("cached_input_tokens", "Cached input tokens"),
    ("output_tokens", "Output tokens"),
    ("requests", "Requests"),
]


def _amount(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=24, decimal_places=6, **kwargs)


class ForecastRun(models.Model):
    class Kind(models.TextChoices):
        TOTAL = "total", "Total only"
        SERIES = "series", "Every series and the total"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCESS = "success", "Success"
        PARTIAL = "partial", "Partial (some series failed)"
        FAILED = "failed", "Failed"

    created_at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SERIES)
    horizon = models.PositiveIntegerField(help_text="Days forecast after as_of.")
    as_of = models.DateField(help_text="Last day of actuals the forecast saw.")
    levels = models.JSONField(default=list, help_text="Interval levels in percent.")
    # Filters of an on-the-fly total ({"provider": ["openai"]}); {} = the whole organisation.
    filters = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=20, default="schedule")
    notes = models.JSONField(default=list, blank=True)
    duration = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["kind", "status", "-as_of"], name="forecastrun_latest")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} forecast as of {self.as_of} ({self.status})"

    @property
    def total(self) -> SeriesForecast | None:
        return self.series.filter(provider="", model="", project_id="", measure=SPEND).first()


class SeriesForecast(models.Model):
    """One series' forecast: the chosen model, its backtest scores, the daily points.

    ``error_model`` keeps the interval model's parameters so that sample paths (month-end
    projections, budgets) can be drawn from a stored forecast without refitting.
    ``scale`` is the in-sample seasonal naive MAE at the run, the MASE denominator of checks.
    """

    run = models.ForeignKey(ForecastRun, on_delete=models.CASCADE, related_name="series")
    provider = models.CharField(max_length=32, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    project_id = models.CharField(max_length=200, blank=True, default="")
    measure = models.CharField(max_length=40, choices=MEASURE_CHOICES, default=SPEND)
    chosen_model = models.CharField(max_length=200)
    scores = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    rejected = models.JSONField(default=list, blank=True)
    error_model = models.JSONField(default=dict, blank=True)
    scale = models.FloatField(null=True, blank=True)
    basis = models.CharField(
        max_length=10, blank=True, help_text="billed / estimated / mixed history (spend only)."
    )
    horizon_total = _amount(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "provider", "model", "project_id", "measure"],
                name="seriesforecast_key",
            )
        ]

    def __str__(self) -> str:
        key = "/".join(k for k in (self.provider, self.model, self.project_id) if k) or "total"
        return f"{key} {self.measure}: {self.chosen_model}"

    @property
    def is_total(self) -> bool:
        return not (self.provider or self.model or self.project_id)


class ForecastPoint(models.Model):
    series = models.ForeignKey(SeriesForecast, on_delete=models.CASCADE, related_name="points")
    date = models.DateField()
    mean = _amount()
    lower80 = _amount(null=True)
    upper80 = _amount(null=True)
    lower95 = _amount(null=True)
    upper95 = _amount(null=True)

    class Meta:
        ordering = ["series", "date"]
        constraints = [models.UniqueConstraint(fields=["series", "date"], name="forecastpoint_key")]

    def __str__(self) -> str:
        return f"{self.date} {self.mean}"


class ForecastCheck(models.Model):
    """Forecast against actuals for the days of a stored forecast that have actuals so far.

    Recomputed (not accumulated) each time, so running the check twice changes nothing.
    """

    series = models.OneToOneField(SeriesForecast, on_delete=models.CASCADE, related_name="accuracy")
    checked_at = models.DateTimeField(auto_now=True)
    days_compared = models.PositiveIntegerField(default=0)
    last_actual = models.DateField(null=True, blank=True)
    mae = models.FloatField(null=True, blank=True)
    mase = models.FloatField(null=True, blank=True)
    bias = models.FloatField(null=True, blank=True, help_text="Mean of actual - forecast.")
    hit_rate_80 = models.FloatField(null=True, blank=True)
    hit_rate_95 = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.series}: {self.days_compared} days"


def _slug(name: str) -> str:
    # The random part makes shared URLs unguessable enough and names reusable.
    return f"{slugify(name)[:40] or 'scenario'}-{secrets.token_hex(4)}"


class Scenario(models.Model):
    """A saved scenario spec (`forecasting.scenario_spec`), shareable by its slug."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="scenarios"
    )
    notes = models.TextField(blank=True)
    spec = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Saved specs are always valid, whether they come from a form, the API or a shell.
        self.spec = self._validated_spec()
        if not self.slug:
            self.slug = _slug(self.name)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        super().clean()
        self.spec = self._validated_spec()

    def _validated_spec(self) -> dict:
        spec = self.spec
        if isinstance(spec, dict) and "name" not in spec and self.name:
            spec = {**spec, "name": self.name}
        try:
            return validate_spec(spec)
        except ScenarioError as exc:
            raise ValidationError({"spec": str(exc)}) from None


class DemandBaseline(models.Model):
    """The day's token demand forecast behind every scenario, stored once per day of actuals.

    Fitted by the nightly task, after a sync, by ``manage.py scenario`` or the scenarios
    page's "Compute now" (a page view only queues it); a scenario is then re-pricing plus
    transforms. ``data`` holds NumPy arrays (``np.savez``, read without pickle):
    ``day`` (days since 1970-01-01), ``model`` and ``project`` (indexes into ``model_names`` and
    ``project_names``) and ``values`` (rows x mean/lower_80/upper_80 x the four demand measures).
    """

    as_of = models.DateField(help_text="Last day of actuals the forecast saw.")
    horizon = models.PositiveIntegerField(help_text="Days forecast after as_of.")
    created_at = models.DateTimeField(auto_now_add=True)
    trigger = models.CharField(max_length=20, default="schedule")
    model_names = models.JSONField(default=list)
    project_names = models.JSONField(default=list)
    # The share of tokens in each UTC hour over the four weeks before as_of: time-of-day
    # prices (DeepSeek's off-peak window) are spread over it.
    hourly_profile = models.JSONField(default=list, blank=True)
    data = models.BinaryField()
    notes = models.JSONField(default=list, blank=True)
    duration = models.DurationField(null=True, blank=True)

    class Meta:
        ordering = ["-as_of", "-created_at"]
        indexes = [models.Index(fields=["-as_of", "-created_at"], name="demandbaseline_latest")]

    def __str__(self) -> str:
        return f"Demand baseline as of {self.as_of} ({self.horizon} days)"
