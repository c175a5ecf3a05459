"""Runs, forecast-vs-actual checks, services and commands on a synced fake organisation."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from forecasting import PRESETS, ScenarioError
from forecasting.runs import checks, forecasts, history, projections, scenarios
from forecasting.runs.models import (
    DemandBaseline,
    ForecastCheck,
    ForecastRun,
    Scenario,
    SeriesForecast,
)
from forecasting.runs.tasks import check_forecasts_task, run_forecasts_task
from spendapp.providers.fake import truth
from tests.forecasting_django.conftest import AS_OF, END, SYNC_DAYS

pytestmark = pytest.mark.django_db
HORIZON = 21


@pytest.fixture
def at_end():
    # "Now" is when the fake's data ends, so the last complete day is AS_OF.
    with time_machine.travel(END, tick=False):
        yield


def _command_json(*args) -> dict:
    out = io.StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_spend_history_is_the_billed_cost_per_day(fake_org):
    daily = history.spend_history(AS_OF - timedelta(days=6), AS_OF, by=("provider",))
    assert list(daily.columns) == ["date", "provider", "spend", "basis"]
    assert set(daily["basis"]) == {"billed"}
    expected = {}
    for row in truth(seed=3, days=SYNC_DAYS, end=END):
        key = (pd.Timestamp(row["date"]), row["provider"])
        expected[key] = expected.get(key, Decimal(0)) + Decimal(row["billed_cost"])
    for row in daily.itertuples():
        assert row.spend == pytest.approx(float(expected[(row.date, row.provider)]), abs=1e-6)


def test_run_forecasts_stores_the_total_every_series_and_demand(fake_org):
    run = forecasts.run_forecasts(horizon=HORIZON, as_of=AS_OF)
    assert run.status == "success", run.notes
    assert run.duration is not None
    assert forecasts.latest_run() == run
    total = run.total
    assert total.is_total and total.points.count() == HORIZON
    assert total.points.first().date == AS_OF + timedelta(days=1)
    assert any(row["chosen"] and row["model"] == total.chosen_model for row in total.scores)
    spend = run.series.filter(measure="spend").exclude(pk=total.pk)
    assert spend.count() > 20  # provider x model x project of both providers
    assert {"openai", "anthropic"} == set(spend.values_list("provider", flat=True))
    measures = set(run.series.values_list("measure", flat=True))
    assert measures == {"spend", "input_tokens", "cached_input_tokens", "output_tokens", "requests"}
    # What users see adds up: the series' daily means sum to the total's.
    for day in (AS_OF + timedelta(days=1), AS_OF + timedelta(days=HORIZON)):
        parts = sum(p.points.get(date=day).mean for p in spend)
        assert parts == pytest.approx(total.points.get(date=day).mean, abs=Decimal("0.0001"))
    point = total.points.first()
    assert point.lower95 <= point.lower80 <= point.mean <= point.upper80 <= point.upper95


def test_forecast_total_reuses_the_stored_run_or_stores_its_own_when_asked(fake_org, at_end):
    assert history.default_as_of() == AS_OF
    run = forecasts.run_forecasts(horizon=HORIZON, as_of=AS_OF, demand=False)
    fc = forecasts.forecast_total(horizon=14)
    assert len(fc.mean) == 14 and fc.model == run.total.chosen_model
    assert ForecastRun.objects.count() == 1
    assert fc.sample_paths(10).shape == (10, 14)  # the error model is stored too

    with pytest.raises(forecasts.ForecastNotReady):  # pages read, never fit
        forecasts.forecast_total({"provider": ["openai"]}, horizon=14)
    filtered = forecasts.forecast_total({"provider": ["openai"]}, horizon=14, compute=True)
    assert ForecastRun.objects.filter(kind="total").count() == 1
    again = forecasts.forecast_total({"provider": ["openai"]}, horizon=7)
    assert ForecastRun.objects.filter(kind="total").count() == 1
    assert list(again.mean) == pytest.approx(list(filtered.mean[:7]), abs=1e-6)
    assert filtered.mean.sum() < fc.mean.sum()


def test_the_month_projection(fake_org, at_end):
    waiting = projections.period_projection("month", budget=Decimal("100"))
    assert not waiting.ready and "no forecast" in waiting.note  # nothing stored, nothing fit
    assert not ForecastRun.objects.exists()

    projection = projections.period_projection("month", budget=Decimal("100"), compute=True)
    assert projection.period.start.isoformat() == "2026-09-01"
    assert projection.period.end.isoformat() == "2026-09-30"
    actual = history.spend_history(AS_OF.replace(day=1), AS_OF)["spend"].sum()
    assert projection.actual_to_date == Decimal(str(actual)).quantize(Decimal("0.01"))
    assert projection.lower_80 <= projection.total <= projection.upper_80
    assert projection.total.as_tuple().exponent == -2  # to the cent, as every page shows
    assert projection.prob_over == 1.0 and projection.prob_over_pct == 100
    assert projection.crossing_date.isoformat() == "2026-09-01"  # $100 is spent on the 1st
    again = projections.month_projection()  # reads the run the first call stored
    assert again.total == projection.total and ForecastRun.objects.count() == 1
    assert again.as_json() == {
        "month": "2026-09",
        "as_of": AS_OF.isoformat(),
        "actual_to_date": str(projection.actual_to_date),
        "projected_total": str(projection.total),
        "lower_80": str(projection.lower_80),
        "upper_80": str(projection.upper_80),
    }


def test_forecast_vs_actual_check_is_computed_and_idempotent(fake_org):
    past = AS_OF - timedelta(days=14)
    run = forecasts.run_forecasts(horizon=28, as_of=past)
    assert checks.check_forecasts(until=AS_OF) == run.series.count()
    total = ForecastCheck.objects.get(series=run.total)
    assert total.days_compared == 14 and total.last_actual == AS_OF
    assert 0 <= total.hit_rate_80 <= total.hit_rate_95 <= 1
    assert total.mae > 0 and total.mase is not None and total.mase < 3
    before = list(ForecastCheck.objects.order_by("pk").values())
    assert checks.check_forecasts(until=AS_OF) == 0  # nothing new to compare
    ForecastCheck.objects.filter(pk=total.pk).update(last_actual=past)  # force a recompute
    assert checks.check_forecasts(until=AS_OF) == 1
    after = list(ForecastCheck.objects.order_by("pk").values())
    strip = [{k: v for k, v in row.items() if k != "checked_at"} for row in before]
    assert strip == [{k: v for k, v in row.items() if k != "checked_at"} for row in after]


def test_tasks_and_nightly_schedule(fake_org, at_end):
    schedule = PeriodicTask.objects.get(task="forecasting.runs.tasks.run_forecasts_task")
    assert (schedule.crontab.hour, schedule.crontab.minute) == ("2", "30")
    assert schedule.expire_seconds < 24 * 3600
    assert PeriodicTask.objects.filter(task="forecasting.runs.tasks.check_forecasts_task").exists()
    run_id = run_forecasts_task.run(horizon=7)
    run = ForecastRun.objects.get(pk=run_id)
    assert run.status == "success" and run.as_of == AS_OF and run.trigger == "schedule"
    assert json.dumps(run_id) and check_forecasts_task.run() == 0  # no past days yet


def test_price_table_has_seen_and_preset_models_with_tiers(fake_org):
    table = scenarios.price_table(AS_OF, effective=False)
    for model in ("gpt-5.5", "claude-opus-4-7", "deepseek-v4-flash", "glm-5.1", "gpt-5.4-mini"):
        assert model in table
    assert table["gpt-5.4-mini"]["input"] == Decimal("0.75") / 1_000_000
    assert table["claude-opus-4-7"]["tier"] == "frontier"
    assert table["deepseek-v4-flash"]["tier"] == "small"
    assert set(scenarios.preset_specs()) == set(PRESETS)


def test_scenario_prices_are_list_prices_times_what_the_bill_says(fake_org):
    """The fake bills Anthropic at a 6% discount: its models' effective prices follow, and a
    provider without billing history (DeepSeek here) stays at list."""
    listed = scenarios.price_table(AS_OF, effective=False)
    effective = scenarios.price_table(AS_OF)
    ratios = scenarios.effective_ratios(scenarios._models())
    opus = effective["claude-opus-4-7"]["input"] / listed["claude-opus-4-7"]["input"]
    assert ratios["claude-opus-4-7"][1] == "model"
    assert opus == pytest.approx(Decimal("0.94"), abs=Decimal("0.03"))
    assert effective["deepseek-v4-flash"] == listed["deepseek-v4-flash"]
    assert ratios["deepseek-v4-flash"] == (Decimal(1), "list")


def test_forecast_command_json(fake_org):
    data = _command_json("forecast", "--horizon", "14", "--by", "provider", "--as-of", str(AS_OF))
    assert data["as_of"] == AS_OF.isoformat() and data["levels"] == [80, 95]
    total, *parts = data["series"]
    assert total["key"] == {} and total["total"] is True
    assert {p["key"]["provider"] for p in parts} == {"openai", "anthropic"}
    for series in data["series"]:
        assert series["model"] and any(s["chosen"] for s in series["scores"])
        assert len(series["rows"]) == 14
        row = series["rows"][0]
        assert row["date"] == (AS_OF + timedelta(days=1)).isoformat()
        assert set(row) == {"date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
        assert Decimal(row["mean"]) == Decimal(row["mean"]).quantize(Decimal("0.01"))
    for i in range(14):
        parts_sum = sum(Decimal(p["rows"][i]["mean"]) for p in parts)
        assert Decimal(total["rows"][i]["mean"]) == parts_sum
    assert Decimal(total["horizon_total"]) == sum(Decimal(p["horizon_total"]) for p in parts)
    with pytest.raises(CommandError, match="by: unsupported grouping colour"):
        call_command("forecast", "--by", "colour", "--as-of", str(AS_OF))


def test_scenario_command_json(fake_org, at_end, tmp_path):
    data = _command_json("scenario", "--preset", "80/20", "--horizon-months", "3")
    assert len(data["baseline"]["monthly"]) == 3
    assert data["baseline"]["monthly"][0]["month"] == "2026-09"
    (result,) = data["scenarios"]
    assert result["name"] == "80/20"
    row = result["monthly"][-1]
    assert set(row) >= {"month", "baseline", "spend", "lower", "upper", "savings", "savings_pct"}
    assert Decimal(row["lower"]) <= Decimal(row["spend"]) <= Decimal(row["upper"])
    assert Decimal(result["savings"]) > 0  # frontier traffic moves to a small model
    assert {"small", "frontier"} <= set(result["by_tier"][0])
    assert "break_even" in result

    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"name": "x", "transforms": [{"type": "cache_hit", "share": 2}]}))
    with pytest.raises(CommandError, match=r"transforms\[0\]\.share"):
        call_command("scenario", "--spec", str(spec))
    spec.write_text("{not json")
    with pytest.raises(CommandError, match=r"spec: .* not valid JSON"):
        call_command("scenario", "--spec", str(spec))
    with pytest.raises(CommandError, match=r"unknown preset 'nope'.*80/20"):
        call_command("scenario", "--preset", "nope")


def test_scenario_results_compare_up_to_four(fake_org, at_end, alice):
    specs = scenarios.preset_specs()
    with pytest.raises(ScenarioError, match="at most 4"):
        scenarios.scenario_results([specs["80/20"]] * 5, horizon_months=2)
    bad = {"name": "bad", "transforms": [{"type": "growth", "factor": -1}]}
    with pytest.raises(ScenarioError, match=r"specs\[1\]\.transforms\[0\]\.factor"):
        scenarios.scenario_results([specs["80/20"], bad], horizon_months=2)
    saved = [
        Scenario.objects.create(name=name, owner=alice, spec=specs[name])
        for name in ("80/20", "gpt-5.5-to-gpt-5.4-mini")
    ]
    with pytest.raises(scenarios.BaselineNotReady, match="is being computed"):
        scenarios.compare_saved([s.slug for s in saved], horizon_months=2)  # reads, never fits
    found, results = scenarios.compare_saved(
        [s.slug for s in saved], horizon_months=2, compute=True
    )
    assert [r.name for r in results] == ["Baseline", "80/20", "Swap gpt-5.5 for gpt-5.4-mini"]
    assert results[0].savings == 0
    assert all(r.baseline_total == results[0].total for r in results[1:])
    assert found == saved
    assert SeriesForecast.objects.count() == 0  # scenarios never write forecast runs


def test_baseline_month_one_is_the_projection_of_the_forecast_command(fake_org, at_end):
    """``manage.py scenario --json --preset 80/20``'s baseline for the current month equals
    ``month_projection.projected_total`` of ``manage.py forecast --json`` (within 0.5%; by
    construction it is the same figure, to the cent or two of per-tier rounding)."""
    month = _command_json("forecast", "--horizon", "30")["month_projection"]
    projected = Decimal(month["projected_total"])
    data = _command_json("scenario", "--preset", "80/20")
    first = data["baseline"]["monthly"][0]
    assert first["month"] == month["month"] == f"{AS_OF:%Y-%m}"
    assert abs(Decimal(first["spend"]) - projected) <= projected * Decimal("0.005")
    assert abs(Decimal(first["spend"]) - projected) <= Decimal("0.05")
    assert len(data["baseline"]["monthly"]) == 18
    # Month 1 of a scenario keeps this month's spend to date (transforms start after it).
    (result,) = data["scenarios"]
    assert Decimal(result["monthly"][0]["spend"]) >= Decimal(month["actual_to_date"])
    assert Decimal(result["monthly"][0]["baseline"]) == Decimal(first["spend"])
    # The demand baseline was fitted once and stored; the next command only re-prices.
    assert DemandBaseline.objects.count() == 1
    again = _command_json("scenario", "--preset", "gpt-5.5-to-gpt-5.4-mini")
    assert DemandBaseline.objects.count() == 1
    assert again["baseline"] == data["baseline"]


def test_a_page_view_never_fits_the_baseline_but_the_task_does(fake_org, at_end):
    with pytest.raises(scenarios.BaselineNotReady):
        scenarios.scenario_inputs()
    assert not DemandBaseline.objects.exists()
    from forecasting.runs.tasks import refresh_demand_baseline

    assert refresh_demand_baseline.run() is True
    assert refresh_demand_baseline.run() is False  # once per day of actuals
    stored = DemandBaseline.objects.get()
    assert stored.as_of == AS_OF and stored.trigger == "sync"
    inputs = scenarios.scenario_inputs()
    assert not inputs.stale
    assert inputs.demand["mean"]["date"].min() == pd.Timestamp(AS_OF + timedelta(days=1))
    for bound in ("lower", "upper"):
        assert len(inputs.demand[bound]) == len(inputs.demand["mean"])
    assert (
        inputs.demand["lower"]["output_tokens"] <= inputs.demand["upper"]["output_tokens"]
    ).all()


def test_time_of_day_prices_follow_the_hourly_traffic_profile(fake_org):
    rows = scenarios.price_rows(AS_OF)
    deepseek = rows["deepseek-v4-flash"]
    assert deepseek.time_of_day and 0 < deepseek.peak_share < 1
    profile = scenarios.hourly_profile(AS_OF)
    assert sum(profile) == pytest.approx(1.0) and max(profile) > 1 / 24  # not uniform
    from spendapp.usage.pricing import PriceBook

    book = PriceBook()
    start = scenarios._moment(AS_OF)
    hourly = [
        book.lookup("deepseek", "deepseek-v4-flash", start.replace(hour=h)) for h in range(24)
    ]
    expected = sum(w * float(p.input) for w, p in zip(profile, hourly, strict=True))
    assert float(deepseek.list_mtok["input"]) == pytest.approx(expected, rel=1e-9)
    low, high = min(float(p.input) for p in hourly), max(float(p.input) for p in hourly)
    assert low < float(deepseek.list_mtok["input"]) < high  # neither price for the whole day
    assert not rows["gpt-5.5"].time_of_day


def test_assumptions_price_models_not_in_use(fake_org):
    rows = scenarios.price_rows(AS_OF)
    used = {"gpt-5.5"}
    listed = scenarios.price_table(rows=rows, effective=False)
    plain = scenarios.price_table(rows=rows, used=used)
    discounted = scenarios.price_table(
        rows=rows, used=used, assumptions={"discount": 0.2, "carry_ratio": False}
    )
    # DeepSeek has no billing history: list, or list less the negotiated discount.
    assert plain["deepseek-v4-flash"]["input"] == listed["deepseek-v4-flash"]["input"]
    assert discounted["deepseek-v4-flash"]["input"] == pytest.approx(
        listed["deepseek-v4-flash"]["input"] * Decimal("0.8"), rel=Decimal("1e-6")
    )
    # Anthropic bills: its ratio carries over unless the scenario says not to.
    opus = rows["claude-opus-4-7"]
    assert opus.basis in ("model", "provider") and opus.ratio != 1
    assert discounted["claude-opus-4-7"]["input"] == pytest.approx(
        listed["claude-opus-4-7"]["input"] * Decimal("0.8"), rel=Decimal("1e-6")
    )
    # A model in use always keeps what its bill says.
    assert discounted["gpt-5.5"] == plain["gpt-5.5"]
    with pytest.raises(ScenarioError, match=r"assumptions\.discount"):
        scenarios.validate_spec({"name": "x", "transforms": [], "assumptions": {"discount": 2}})
    with pytest.raises(ScenarioError, match=r"assumptions\.carry_ratio"):
        scenarios.validate_spec(
            {"name": "x", "transforms": [], "assumptions": {"carry_ratio": "maybe"}}
        )


def test_goal_seek_and_what_moved(fake_org, at_end):
    inputs = scenarios.scenario_inputs(6, compute=True)
    spec = scenarios.preset_specs(inputs.prices)["80/20"]
    spec = {**spec, "transforms": [{**spec["transforms"][0], "ramp": "step"}]}
    baseline = scenarios.scenario_results([], 6, inputs=inputs)[0]
    found = scenarios.share_needed(inputs, spec, index=0, cut=1.2)
    assert found.share is not None and 0 < found.share < 1
    assert found.share_lower <= found.share
    # With the upper demand the same dollar target needs more, possibly more than all of it.
    assert found.share_upper is None or found.share <= found.share_upper
    checked = scenarios.scenario_results(
        [{**spec, "transforms": [{**spec["transforms"][0], "share": found.share}]}],
        6,
        inputs=inputs,
    )[1]
    assert float(checked.total) == pytest.approx(float(baseline.total) / 1.2, rel=1e-3)
    moved = scenarios.what_moved(inputs, spec)
    tiers = {row["name"]: row for row in moved["tier"]}
    assert tiers["frontier"]["tokens_moved"] < 0 < tiers["small"]["tokens_moved"]
    assert tiers["frontier"]["change"] < 0
