from django.apps import AppConfig


class ForecastRunsConfig(AppConfig):
    """The thin Django side of forecasting/: runs, saved scenarios, model tiers, tasks."""

    name = "forecasting.runs"
    label = "forecasting"
    verbose_name = "Forecasts and scenarios"
    default_auto_field = "django.db.models.BigAutoField"
