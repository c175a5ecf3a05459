"""Colours and number formats shared by every chart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spendapp.dashboard import charts


def test_colours_are_stable_across_calls_and_processes():
    # Fixed expectations: crc32 does not change between runs (Python's hash() would).
    assert charts.color_for("provider", "openai") == "#0072B2"
    assert charts.color_for("provider", "anthropic") == "#D55E00"
    assert charts.color_for("model", "gpt-5.5") == "#0072B2"
    assert charts.color_for("model", "some-new-model") == charts.color_for(
        "model", "some-new-model"
    )
    assert charts.color_for("model", "some-new-model") == "#332288"
    assert charts.color_for("project", "proj_x") in charts.PALETTE


def test_the_palette_is_colour_blind_safe_and_free_of_repeats():
    assert len(set(charts.PALETTE)) == len(charts.PALETTE)
    assert set(charts.OKABE_ITO[:6]) <= set(charts.PALETTE)
    assert charts.color_for("model", "") == charts.OTHER_COLOR


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1234.5"), "$1.2k"),
        (Decimal("12.345"), "$12.35"),
        (Decimal("0"), "$0.00"),
        (Decimal("-2500"), "-$2.5k"),
        (Decimal("3400000"), "$3.4M"),
        (None, "\u2013"),
    ],
)
def test_short_money(value, text):
    assert charts.short_money(value) == text


@pytest.mark.parametrize(
    ("value", "text"), [(3_400_000, "3.4M"), (1234, "1.2k"), (12, "12"), (2_500_000_000, "2.5B")]
)
def test_short_number(value, text):
    assert charts.short_number(value) == text


def test_figure_json_cannot_close_its_script_tag():
    fig = charts.series_chart(
        ["2026-09-01"],
        [{"name": "</script><b>", "values": [1], "color": "#0072B2"}],
        y_format="money",
    )
    text = charts.to_json(fig)
    assert "</script>" not in text and "<b>" not in text
    import json

    assert json.loads(text)["data"][0]["name"] == "</script><b>"
    assert json.loads(text)["layout"]["template"] == {}  # no 9 KB plotly.py template


@pytest.mark.parametrize(
    ("stacked", "bar", "points"),
    [(False, False, 3), (False, False, 60), (True, False, 3), (False, True, 3)],
)
def test_series_charts_pass_plotlys_validation(stacked, bar, points):
    """`series_chart` skips plotly.py's per-element checks for speed; the same figure fed to
    a validating constructor must be accepted as it is, trace for trace."""
    import plotly.graph_objects as go

    x = [f"2026-09-{d % 28 + 1:02d}" for d in range(points)]
    fig = charts.series_chart(
        x,
        [
            {
                "name": "a",
                "values": [1] * points,
                "color": "#0072B2",
                "meta": {"drill": "by=model"},
            },
            {"name": "b", "values": [None] * points, "color": "#E69F00"},
        ],
        y_format="money",
        y_title="Spend",
        stacked=stacked,
        bar=bar,
    )
    sent = fig.to_dict()
    checked = go.Figure(sent)  # raises ValueError on an unknown property or a bad value
    assert checked.to_dict()["data"] == sent["data"]
    assert [t["type"] for t in sent["data"]] == ["bar" if stacked or bar else "scatter"] * 2


def test_a_bad_trace_property_is_caught_by_the_validation_above():
    import plotly.graph_objects as go

    fig = charts.series_chart(["2026-09-01"], [], y_format="money")
    fig.data = ()
    sent = fig.to_dict()
    sent["data"] = [{"type": "bar", "x": [1], "colour": "red"}]
    with pytest.raises(ValueError, match="colour"):
        go.Figure(sent)
