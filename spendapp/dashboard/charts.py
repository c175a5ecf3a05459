"""Plotly figures built on the server: colours, number formats and one builder per chart.

Figures are sent to the page as JSON and drawn by our static plotly.js *basic* bundle, so
only scatter (lines, filled bands) and bar traces may be used here.
"""

from __future__ import annotations

import copy
import functools
import zlib
from collections.abc import Iterable, Sequence
from decimal import Decimal

import plotly.graph_objects as go
import plotly.io as pio

from spendapp.core import money

# Okabe-Ito (colour-blind safe), then Paul Tol's "muted" set for more series. Black and the
# pale yellow are left out: they read as text and vanish on white.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
TOL_MUTED = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)
PALETTE = OKABE_ITO[:6] + TOL_MUTED
OTHER_COLOR = "#BBBBBB"
TOTAL_COLOR = "#1D2430"
# Fixed colours where the domain has a small known set, so they never collide on a page.
FIXED_COLORS = {
    "provider": {"openai": "#0072B2", "anthropic": "#D55E00", "focus": "#009E73"},
    "tier": {"frontier": "#D55E00", "mid": "#E69F00", "small": "#009E73", "unknown": "#999933"},
}
KNOWN_MODELS = {
    "gpt-5.5": "#0072B2",
    "gpt-5.4": "#56B4E9",
    "gpt-5.4-mini": "#009E73",
    "gpt-5.4-nano": "#44AA99",
    "claude-opus-4-7": "#D55E00",
    "claude-sonnet-4-6": "#E69F00",
    "claude-haiku-4-5": "#CC79A7",
}
CHART_HEIGHT = 380
NO_VALUE = "\u2013"  # an en dash: shown where there is no number


def color_for(kind: str, value: str | None) -> str:
    """A stable colour for a series: the same provider/model has the same colour on every page
    and in every request (crc32, not Python's salted ``hash``)."""
    if not value:
        return OTHER_COLOR
    if kind == "model" and value in KNOWN_MODELS:
        return KNOWN_MODELS[value]
    fixed = FIXED_COLORS.get(kind, {})
    if value in fixed:
        return fixed[value]
    return PALETTE[zlib.crc32(f"{kind}:{value}".encode()) % len(PALETTE)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


# --- number formats ---------------------------------------------------------------------------

_SUFFIXES = ((Decimal(10) ** 12, "T"), (Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"))


def short_number(value: Decimal | float | int | None, digits: int = 1) -> str:
    """3_400_000 -> "3.4M", 1234 -> "1.2k", 12 -> "12"."""
    if value is None:
        return NO_VALUE
    number = Decimal(str(value))
    for scale, suffix in (*_SUFFIXES, (Decimal(1000), "k")):
        if abs(number) >= scale:
            return f"{number / scale:.{digits}f}{suffix}"
    if number == number.to_integral_value():
        return f"{number:.0f}"
    return f"{number:.{digits}f}"


def short_money(value: Decimal | float | None) -> str:
    """1234.5 -> "$1.2k" in the organisation's currency (see `spendapp.core.money`)."""
    return money.compact(value)


# Axis ticks and hover labels in d3-format: SI-short on the axis, full values on hover.
AXIS_FORMATS = {"money": "$~s", "count": "~s", "rate": "$.2f", "share": ".0%"}
HOVER_FORMATS = {"money": "$,.2f", "count": ",.0f", "rate": "$,.4f", "share": ".1%"}


# --- figure helpers ---------------------------------------------------------------------------


def _layout(fig: go.Figure, *, y_format: str, y_title: str = "", stacked: bool = False) -> None:
    fig.update_layout(
        # No plotly.py template: it would add ~9 KB of JSON to every chart for nothing.
        template=None,
        height=CHART_HEIGHT,
        margin={"l": 60, "r": 20, "t": 10, "b": 40},
        barmode="stack" if stacked else None,
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.15},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="#ffffff",
        font={"family": "system-ui, sans-serif", "size": 12, "color": "#1d2430"},
        colorway=list(PALETTE),
        yaxis={
            "tickformat": AXIS_FORMATS[y_format],
            "title": {"text": y_title},
            "gridcolor": "#e3e6eb",
            "rangemode": "tozero",
            "zeroline": False,
        },
        xaxis={"gridcolor": "#f0f1f4"},
    )


def _hover(y_format: str, name: str = "%{fullData.name}") -> str:
    return f"{name}: %{{y:{HOVER_FORMATS[y_format]}}}<extra></extra>"


def to_json(fig: go.Figure | dict) -> str:
    """Figure JSON safe inside ``<script type="application/json">``: a series name such as
    ``</script>`` must not end the tag (the same escaping as Django's json_script). A figure
    dict (`series_figure`) is serialised as it is, without a copy."""
    text = pio.to_json(fig, validate=False, engine="json")
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _floats(values: Iterable) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


# --- builders ---------------------------------------------------------------------------------


def series_figure(
    x: Sequence,
    series: Sequence[dict],
    *,
    y_format: str,
    y_title: str = "",
    stacked: bool = False,
    bar: bool = False,
) -> dict:
    """Time series, one trace per ``{"name", "values", "color", "meta"?}``, as a plain figure
    dict for `to_json` (`series_chart` when more traces are to be added).

    Stacked money/counts are bars (a stacked area hides small series); lines otherwise.
    ``meta`` travels with the trace to the page (e.g. the drill-down URL).
    """
    traces = []
    for item in series:
        trace = {
            "x": list(x),
            "y": _floats(item["values"]),
            "name": item["name"],
            "meta": item.get("meta"),
            "hovertemplate": _hover(y_format),
        }
        if bar or stacked:
            trace.update(type="bar", marker={"color": item["color"]})
        else:
            trace.update(
                type="scatter",
                mode="lines+markers" if len(x) < 40 else "lines",
                line={"color": item["color"], "width": 2},
                connectgaps=False,
            )
        traces.append(trace)
    # plotly.py checks (and copies) every element of every data array it is given: for a
    # year of a dozen series that was most of the page's time. These traces are built from
    # the fixed property names above (tests/dashboard/test_charts.py validates them); the
    # layout is validated once per kind of chart.
    layout = copy.deepcopy(_checked_layout(y_format, y_title, stacked or bar))
    return {"data": traces, "layout": layout}


def series_chart(x: Sequence, series: Sequence[dict], **options) -> go.Figure:
    """`series_figure` as a plotly.py figure, for builders that add bands or lines to it."""
    return go.Figure(series_figure(x, series, **options), _validate=False)


def warm_up() -> None:
    """Build the house layout once, at the web process's start-up (`spendapp.wsgi`): plotly.py
    creates its validators on first use, ~80 ms that the first chart request would pay."""
    _checked_layout("money", "", False)


@functools.lru_cache(maxsize=128)
def _checked_layout(y_format: str, y_title: str, stacked: bool) -> dict:
    frame = go.Figure()
    _layout(frame, y_format=y_format, y_title=y_title, stacked=stacked)  # validated here
    return frame.to_dict()["layout"]


def add_band(
    fig: go.Figure,
    x: Sequence,
    lower: Sequence,
    upper: Sequence,
    *,
    color: str,
    name: str,
    alpha: float = 0.18,
    group: str | None = None,
) -> None:
    """An interval as two scatter traces, the upper filled down to the lower."""
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=_floats(lower),
            mode="lines",
            line={"width": 0, "color": color},
            showlegend=False,
            hoverinfo="skip",
            legendgroup=group or name,
            name=f"{name} (lower)",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=_floats(upper),
            mode="lines",
            line={"width": 0, "color": color},
            fill="tonexty",
            fillcolor=rgba(color, alpha),
            name=name,
            legendgroup=group or name,
            hoverinfo="skip",
        )
    )


def line(
    fig: go.Figure,
    x: Sequence,
    y: Sequence,
    *,
    name: str,
    color: str,
    y_format: str = "money",
    dash: str | None = None,
    group: str | None = None,
) -> None:
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=_floats(y),
            mode="lines",
            name=name,
            line={"color": color, "width": 2, "dash": dash},
            legendgroup=group or name,
            hovertemplate=_hover(y_format),
        )
    )


def empty_figure(y_format: str = "money") -> go.Figure:
    """A figure with the house layout, for builders that add traces to it. The layout comes
    from `_checked_layout` (validated once per kind of chart); the figure does not validate
    it again: plotly.py's validation of a layout update took ~20 ms per chart."""
    return go.Figure(
        {"layout": copy.deepcopy(_checked_layout(y_format, "", False))}, _validate=False
    )


def finish(fig: go.Figure, *, y_format: str, y_title: str = "", stacked: bool = False):
    """The house layout with this chart's axis format and title (see `empty_figure`)."""
    layout = copy.deepcopy(_checked_layout(y_format, y_title, stacked))
    layout.setdefault("barmode", None)  # a stacked layout's barmode does not linger
    fig.update_layout(layout)
    return fig
