"""Celery tasks: the nightly forecast run, the forecast-vs-actual check, and the day's total
forecast after a sync."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="forecasting.runs.tasks.run_forecasts_task")
def run_forecasts_task(horizon: int = 90) -> int:
    """Check past runs against the newest actuals, then make tonight's run; its id."""
    from forecasting.runs.checks import check_forecasts
    from forecasting.runs.forecasts import run_forecasts

    # Checking first means the new run's page already shows how far the last ones were off.
    check_forecasts()
    run = run_forecasts(horizon=horizon, trigger="schedule")
    refresh_demand_baseline.run(trigger="schedule")
    return run.pk


@shared_task(name="forecasting.runs.tasks.check_forecasts_task")
def check_forecasts_task() -> int:
    """Compare stored forecasts with actuals (idempotent); the number of checks written."""
    from forecasting.runs.checks import check_forecasts

    return check_forecasts()


@shared_task(name="forecasting.runs.tasks.refresh_total_forecast")
def refresh_total_forecast() -> bool:
    """Store today's total forecast (the overview's month projection) if it is not yet;
    whether one was fitted."""
    from forecasting.runs.projections import month_projection

    projection = month_projection()
    if projection.ready or projection.as_of is None:
        return False
    return month_projection(compute=True).ready


@shared_task(name="forecasting.runs.tasks.refresh_demand_baseline")
def refresh_demand_baseline(trigger: str = "sync") -> bool:
    """Store the day's demand baseline behind every scenario if it is not yet; whether one
    was fitted (a day without priced usage stores none)."""
    from forecasting import ScenarioError
    from forecasting.runs.history import default_as_of
    from forecasting.runs.models import DemandBaseline
    from forecasting.runs.scenarios import compute_baseline

    as_of = default_as_of()
    if as_of is None or DemandBaseline.objects.filter(as_of=as_of).exists():
        return False
    try:
        compute_baseline(as_of, trigger=trigger)
    except ScenarioError:
        return False
    return True
