"""The forecast page reads stored runs (`forecasting.runs`): the run's date and model, and
forecast vs actual from the checks of earlier runs. A GET never fits or stores a forecast:
without a run the page says so and offers "Compute now" (a POST)."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from forecasting import describe_model
from forecasting.runs import checks, forecasts
from forecasting.runs.models import ForecastCheck, ForecastRun
from tests.dashboard.conftest import NOW, TODAY, chart_json

AS_OF = TODAY - timedelta(days=1)


def test_the_forecast_page_shows_a_stored_run_and_its_forecast_vs_actual(
    finance_client, spend_data
):
    # Two weeks ago a user computed and stored a total (no nightly run yet); tonight's task
    # checked it against what came and made tonight's run of every series.
    with time_machine.travel(NOW - timedelta(days=14), tick=False):
        forecasts.forecast_total(horizon=90, compute=True)
    past = ForecastRun.objects.get()
    assert past.as_of == AS_OF - timedelta(days=14)
    assert checks.check_forecasts(until=AS_OF) == 1
    check = ForecastCheck.objects.get(series=past.total)
    current = forecasts.run_forecasts(horizon=90, as_of=AS_OF, demand=False)
    runs = ForecastRun.objects.count()

    response = finance_client.get("/forecast/?horizon=30")
    assert response.status_code == 200
    assert ForecastRun.objects.count() == runs  # read, not recomputed
    html = response.content.decode()
    assert response.context["run"] == current
    assert current.total.chosen_model in html
    # The method in plain words, and what past runs say about trusting it.
    assert describe_model(current.total.chosen_model)[1:] in html
    assert "Typical miss:" in html and "the 80% band held on" in html
    assert response.context["track"]["days"] == 14
    assert 'id="forecast-run"' in html and AS_OF.strftime("%b %-d, %Y") in html
    forecast = chart_json(response, "chart-forecast")
    line = next(t for t in forecast["data"] if t["name"].startswith("Forecast ("))
    assert line["name"] == f"Forecast ({current.total.chosen_model})"
    assert line["x"][0] == TODAY.isoformat() and len(line["x"]) == 30

    # Forecast vs actual: the earlier run's stored check and its stored points.
    assert [p["check"] for p in response.context["past"]] == [check]
    assert 'id="forecast-checks"' in html and past.total.chosen_model in html
    assert check.days_compared == 14
    past_chart = chart_json(response, "chart-backtest")
    label = f"Forecast of {past.as_of:%Y-%m-%d}"
    mean = next(t for t in past_chart["data"] if t["name"] == label)
    assert len(mean["x"]) == 14 and mean["x"][-1] == AS_OF.isoformat()


def test_without_a_run_the_page_offers_to_compute_and_a_get_never_writes(
    finance_client, spend_data
):
    first = finance_client.get("/forecast/?series=model:gpt-5.5&horizon=30")
    assert first.status_code == 200
    assert not ForecastRun.objects.exists()  # a page view never fits or stores
    html = first.content.decode()
    assert 'id="forecast-compute"' in html and "Compute now" in html
    assert finance_client.get("/").status_code == 200
    assert not ForecastRun.objects.exists()

    done = finance_client.post("/forecast/compute/", {"series": "model:gpt-5.5", "horizon": "30"})
    assert done.status_code == 302 and "series=model%3Agpt-5.5" in done["Location"]
    run = ForecastRun.objects.get()
    assert run.kind == "total" and run.filters == {"model": ["gpt-5.5"]}
    assert run.trigger == "manual" and run.as_of == AS_OF
    again = finance_client.get("/forecast/?series=model:gpt-5.5&horizon=60")
    assert again.status_code == 200 and again.context["run"] == run
    assert len(again.context["fc"].mean) == 60
    # Asking again changes nothing: today's run is there.
    finance_client.post("/forecast/compute/", {"series": "model:gpt-5.5", "horizon": "30"})
    assert ForecastRun.objects.count() == 1


def test_compute_now_rejects_a_series_that_is_not_in_the_data(finance_client, spend_data):
    response = finance_client.post("/forecast/compute/", {"series": "model:nope", "horizon": "30"})
    assert response.status_code == 302
    assert not ForecastRun.objects.exists()


def test_the_overview_projection_uses_the_stored_run(finance_client, spend_data):
    forecasts.forecast_total(horizon=90, compute=True)  # stores today's total run
    current = ForecastRun.objects.get()
    response = finance_client.get("/")
    assert ForecastRun.objects.count() == 1
    projection = response.context["projection"]
    assert projection.forecast.model == current.total.chosen_model
    assert projection.as_of == AS_OF
    assert projection.period.end == TODAY.replace(day=30)
    # The headline is the middle of the simulated totals: always inside its 80% range.
    assert projection.ready and projection.lower_80 <= projection.total <= projection.upper_80
    assert projection.actual_to_date < projection.total
