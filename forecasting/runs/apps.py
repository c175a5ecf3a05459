from django.apps import AppConfig


class ForecastRunsConfig(AppConfig):
    """The thin Django side of forecasting/: runs, saved scenarios, tasks."""

    name = "forecasting.runs"
    label = "forecasting"
    verbose_name = "Forecasts and scenarios"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Changed spend queues the day's total forecast (the overview's projection).
        from forecasting.runs import receivers  # noqa: F401
