"""The explorer: state in the URL, validation, drill-down, hourly data."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

import pytest
from django.http import QueryDict

from spendapp.dashboard.filters import ExplorerState, FilterError, parse_explorer
from spendapp.usage.models import DailySpend
from tests.dashboard.conftest import TODAY, chart_json

STATE = {
    "from": "2026-08-01",
    "to": "2026-09-10",
    "by": "model",
    "granularity": "week",
    "metric": "per_mtok",
    "chart": "lines",
}


def _query(params) -> QueryDict:
    return QueryDict(urlencode(params, doseq=True))


def test_the_state_round_trips_through_the_url():
    params = [
        *STATE.items(),
        ("provider", "openai"),
        ("project", "proj_support"),
        ("project", "(none)"),
    ]
    state = parse_explorer(_query(params), TODAY)
    again = parse_explorer(_query(parse_qsl(state.query_string())), TODAY)
    assert again == state
    assert state.filters == {"provider": ("openai",), "project": ("proj_support", "(none)")}
    assert dict(parse_qsl(state.query_string()))["metric"] == "per_mtok"


def test_the_page_links_reproduce_the_view(finance_client, spend_data):
    params = {**STATE, "provider": "openai"}
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 200
    state = response.context["state"]
    permalink = response.context["query_string"]
    assert parse_explorer(QueryDict(permalink), TODAY) == state
    html = response.content.decode()
    assert f'href="?{permalink.replace("&", "&amp;")}" id="permalink"' in html
    # The form shows the state it came from.
    assert '<option value="week" selected>' in html
    assert '<option value="openai" title="openai" selected>' in html


def test_the_chart_has_one_trace_per_series_and_drills_into_it(finance_client, spend_data):
    response = finance_client.get(
        "/explorer/", {"from": "2026-09-01", "to": "2026-09-10", "by": "provider"}
    )
    figure = chart_json(response, "chart-spend")
    assert [t["name"] for t in figure["data"]] == ["openai", "anthropic"]
    assert all(t["type"] == "bar" for t in figure["data"])  # stacked spend
    assert figure["layout"]["barmode"] == "stack"
    assert len(figure["data"][0]["x"]) == 10
    drill = QueryDict(figure["data"][0]["meta"]["drill"])
    assert drill["provider"] == "openai" and drill["by"] == "model"
    drilled = finance_client.get("/explorer/", drill)
    names = [t["name"] for t in chart_json(drilled, "chart-spend")["data"]]
    assert set(names) == {"gpt-5.5", "gpt-5.4-mini", "gpt-5.4"}


def test_ratios_are_drawn_as_lines_never_stacked(finance_client, spend_data):
    response = finance_client.get("/explorer/", {"by": "tier", "metric": "cache_share"})
    figure = chart_json(response, "chart-spend")
    assert {t["type"] for t in figure["data"]} == {"scatter"}
    assert {t["name"] for t in figure["data"]} == {"frontier", "mid", "small"}
    values = [v for t in figure["data"] for v in t["y"] if v is not None]
    assert all(0.2 < v < 0.3 for v in values)  # a quarter of input is cached in the fixture


def test_project_names_label_series_and_filters(finance_client, spend_data):
    response = finance_client.get("/explorer/", {"by": "project"})
    names = {t["name"] for t in chart_json(response, "chart-spend")["data"]}
    assert "Customer Support (proj_support)" in names


def test_hourly_granularity_reads_the_hourly_rollup(finance_client, spend_data):
    params = {"from": "2026-09-08", "to": "2026-09-10", "granularity": "hour", "by": ""}
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 200
    trace = chart_json(response, "chart-spend")["data"][0]
    assert len(trace["x"]) == 60  # 48 h + 12 h of today, none from the future
    assert trace["x"][0] == "2026-09-08 00:00" and trace["x"][-1] == "2026-09-10 11:00"
    assert all(v > 0 for v in trace["y"])


def test_a_filter_with_no_rows_shows_the_empty_state(finance_client, spend_data):
    response = finance_client.get("/explorer/", {"from": "2020-01-01", "to": "2020-01-31"})
    assert response.status_code == 200
    assert 'id="explorer-empty"' in response.content.decode()


NONSENSE = [
    {"from": "yesterday"},
    {"to": "2026-13-01"},
    {"from": "2026-09-10", "to": "2026-09-01"},
    {"from": "1900-01-01"},
    {"by": "colour"},
    {"by": "model,project"},
    {"granularity": "fortnight"},
    {"granularity": "hour", "from": "2026-06-01"},
    {"granularity": "hour", "metric": "billed", "from": "2026-09-09"},
    {"metric": "vibes"},
    {"chart": "pie"},
    {"project": "proj_secret"},
    {"model": "<script>alert(1)</script>"},
    {"provider": "openai", "user": "nobody"},
    {"utm_source": "mail"},
    {"from": "\x00"},
    {"to": "9" * 200},
]


@pytest.mark.parametrize("params", NONSENSE, ids=[str(p)[:40] for p in NONSENSE])
def test_nonsense_parameters_get_a_clear_message_and_400(finance_client, spend_data, params):
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="filter-errors"' in html
    assert 'id="explorer-form"' in html  # the form is there to fix it
    assert "<script>alert(1)</script>" not in html
    name = next(iter(params)) if len(params) == 1 else None
    if name:
        assert f"{name}:" in html
    export = finance_client.get("/explorer/export.csv", params)
    assert export.status_code == 400 and export["Content-Type"].startswith("text/plain")


def test_a_refused_view_keeps_the_users_choices_and_puts_the_error_beside_the_field(
    finance_client, spend_data
):
    params = {
        "granularity": "hour",
        "from": "2026-06-01",
        "by": "model",
        "metric": "tokens",
        "chart": "lines",
        "provider": "openai",
    }
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'name="from" value="2026-06-01"' in html
    for field, value in (("by", "model"), ("metric", "tokens"), ("chart", "lines")):
        assert re.search(rf'id="f-{field}".*?<option value="{value}" selected>', html, re.S)
    assert '<option value="hour" selected>' in html
    assert re.search(r'<option value="openai" title="[^"]*" selected>', html)
    beside = re.search(r'id="f-granularity-error">([^<]*)<', html)
    assert beside and "hourly data covers at most" in beside.group(1)


@pytest.mark.parametrize(
    "params",
    [
        {"series": "colour:red"},
        {"series": "model:nope"},
        {"horizon": "7"},
        {"horizon": "x"},
        {"x": "1"},
    ],
)
def test_the_forecast_page_refuses_nonsense_with_400(finance_client, spend_data, params):
    response = finance_client.get("/forecast/", params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()


@pytest.mark.parametrize(
    "params",
    [
        {"from": "soon"},
        {"to": "2026-02-30"},
        {"from": "2026-09-10", "to": "2026-01-01"},
        {"a": "b"},
    ],
)
def test_the_data_health_page_refuses_nonsense_with_400(finance_client, spend_data, params):
    response = finance_client.get("/data-health/", params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()


FIVE = "preset:80/20,preset:frontier-open-mix,preset:gpt-5.5-to-gpt-5.4-mini,a-1,b-2"


@pytest.mark.parametrize(
    "params",
    [
        {"compare": "preset:nope"},
        {"compare": ["missing-slug"]},
        {"compare": FIVE},
        {"q": "1"},
        {"s": "x", "compare": "y"},  # the old parameter, mixed with the new
    ],
)
def test_the_scenario_page_refuses_nonsense_with_400(finance_client, spend_data, params):
    response = finance_client.get("/scenarios/", params)
    assert response.status_code == 400
    assert 'id="filter-errors"' in response.content.decode()


def test_parse_explorer_lists_every_bad_parameter():
    with pytest.raises(FilterError) as caught:
        parse_explorer(_query({"by": "x", "metric": "y", "chart": "z"}), TODAY)
    assert [m.split(":")[0] for m in caught.value.messages] == ["by", "metric", "chart"]


def test_the_default_state_is_the_last_30_days_by_provider():
    state = parse_explorer(QueryDict(""), TODAY)
    assert state == ExplorerState(TODAY.replace(day=12, month=8), TODAY)


def test_beyond_twelve_series_the_smallest_are_summed_into_other(finance_client, accounts):
    """20 API keys: the 11 biggest are shown, the other 9 are one "Other" series whose every
    point is the sum of theirs (folded by PostgreSQL), and nothing is lost on the way."""
    from datetime import timedelta
    from decimal import Decimal

    from spendapp.dashboard.series import MAX_SERIES
    from spendapp.usage.models import DailySpend
    from tests.dashboard.conftest import TODAY

    days = [TODAY - timedelta(days=d) for d in range(5)]
    cost = {}  # (key, day) -> estimated cost
    rows = []
    for k in range(20):
        for n, day in enumerate(days):
            if k % 3 == 0 and n == 2:
                continue  # some keys skip a day: "Other" must still add up per day
            cost[f"key_{k:02d}", day] = Decimal(k + 1) + Decimal(n) / 100
            rows.append(
                DailySpend(
                    day=day,
                    account=accounts["openai"],
                    provider="openai",
                    project_id="proj_a",
                    model="gpt-5.4",
                    api_key_id=f"key_{k:02d}",
                    output_tokens=1000 * (k + 1),
                    estimated_cost=cost[f"key_{k:02d}", day],
                )
            )
    DailySpend.objects.bulk_create(rows)
    params = {"from": days[-1].isoformat(), "to": TODAY.isoformat(), "by": "api_key"}
    response = finance_client.get("/explorer/", params)
    assert response.status_code == 200
    series = response.context["series"]
    assert len(series) == MAX_SERIES
    totals = {}
    for (key, _), c in cost.items():
        totals[key] = totals.get(key, 0) + c
    shown = sorted(totals, key=lambda key: -totals[key])[: MAX_SERIES - 1]  # biggest first
    assert [s.key for s in series[:-1]] == shown
    other = series[-1]
    assert other.is_other and other.label == "Other (9 series)"
    for day in days:
        expected = sum(c for (key, d), c in cost.items() if d == day and key not in shown)
        assert other.by_period[day.isoformat()].estimated == expected
    assert other.parts.estimated == sum(c for (key, _), c in cost.items() if key not in shown)
    assert sum(s.parts.estimated for s in series) == sum(cost.values())
    names = [t["name"] for t in chart_json(response, "chart-spend")["data"]]
    assert names == [*shown, "Other (9 series)"]


def test_requests_a_provider_does_not_report_show_as_not_available(finance_client, spend_data):
    # Anthropic's usage report has no request counts: its rows carry tokens and 0 requests.
    DailySpend.objects.filter(provider="anthropic").update(requests=0)
    html = finance_client.get("/explorer/?by=provider").content.decode()
    rows = {row.split("</td>", 1)[0]: row for row in html.split("<tr>")[1:]}
    anthropic = next(row for label, row in rows.items() if "anthropic" in label)
    openai = next(row for label, row in rows.items() if "openai" in label)
    assert "requests-na" in anthropic and ">n/a<" in anthropic
    assert "requests-na" not in openai
