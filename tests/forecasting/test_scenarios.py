import pandas as pd
import pytest

from forecasting import ScenarioError, goal_seek, run_scenario, validate_spec
from forecasting.presets import (
    preset_80_20,
    preset_fewer_calls_shorter_context,
    preset_frontier_open_mix,
    preset_gpt55_to_deepseek_v4_flash,
    preset_gpt55_to_gpt54_mini,
)

PRICES = {
    "frontier": {"input": 1e-5, "cached_input": 1e-6, "output": 4e-5, "tier": "frontier"},
    "tenth": {"input": 1e-6, "cached_input": 1e-7, "output": 4e-6, "tier": "mid"},
    "tiny": {"input": 1e-7, "cached_input": 1e-8, "output": 4e-7, "tier": "small"},
}
DATES = pd.date_range("2025-01-01", "2025-12-31")


def flat_demand(model="frontier", project="p", scale=1.0):
    return pd.DataFrame(
        {
            "date": DATES,
            "model": model,
            "project": project,
            "input_tokens": 1e6 * scale,
            "cached_input_tokens": 0.0,
            "output_tokens": 2.5e5 * scale,
            "requests": 100.0 * scale,
        }
    )


BASE_DAY = 1e6 * 1e-5 + 2.5e5 * 4e-5  # $20/day


def spec(*transforms):
    return {"name": "t", "transforms": list(transforms)}


def test_baseline_prices_by_hand():
    res = run_scenario(flat_demand(), PRICES, spec())
    assert float(res.baseline_total) == pytest.approx(BASE_DAY * 365, abs=0.05)
    assert res.savings == 0


def test_shift_all_to_a_tenth_of_the_price_costs_a_tenth():
    res = run_scenario(
        flat_demand(),
        PRICES,
        spec({"type": "shift", "from": {"model": "frontier"}, "to": "tenth", "share": 1.0}),
    )
    assert float(res.total) == pytest.approx(float(res.baseline_total) / 10, abs=0.05)
    assert res.savings_pct == pytest.approx(90, abs=0.01)
    assert (res.by_tier["frontier"] == 0).all()
    assert float(res.by_tier["mid"].sum()) == pytest.approx(float(res.total), abs=0.01)


def test_80_20_preset_saves_about_79_percent_at_full_ramp():
    preset = preset_80_20(PRICES, months=6)
    assert "tiny ($0.10 in / $0.40 out per 1M tokens)" in preset["description"]
    assert "~99% cheaper" in preset["description"]
    res = run_scenario(flat_demand(), PRICES, preset)
    last = res.monthly.iloc[-1]
    assert last["savings_pct"] == pytest.approx(0.8 * 0.99 * 100, abs=0.1)
    assert res.monthly.iloc[0]["savings_pct"] < 5


def test_80_20_moves_work_to_a_model_that_can_answer_not_to_an_embedding_model():
    # An embedding model is the cheapest of the small tier (input only, output priced 0),
    # but frontier chat traffic cannot move to it.
    embedding = {"input": 2e-8, "cached_input": 0.0, "output": 0.0, "tier": "small"}
    prices = {**PRICES, "text-embedding-3-small": embedding}
    preset = preset_80_20(prices)
    assert preset["transforms"][0]["to"] == "tiny"
    with pytest.raises(ScenarioError, match="no generative model of tier 'small'"):
        preset_80_20({"frontier": PRICES["frontier"], "text-embedding-3-small": embedding})


@pytest.mark.parametrize(
    "transform",
    [
        {"type": "shift", "from": {"model": "frontier"}, "to": "text-embedding-3-small"},
        {"type": "route", "small": "text-embedding-3-small", "frontier": "frontier"},
    ],
)
def test_traffic_cannot_move_to_an_input_only_model(transform):
    # A draft typed by hand gets the same rule as the preset: a clear error, not a saving.
    embedding = {"input": 2e-8, "cached_input": 0.0, "output": 0.0, "tier": "small"}
    prices = {**PRICES, "text-embedding-3-small": embedding}
    with pytest.raises(ScenarioError, match="priced for input only"):
        run_scenario(flat_demand(), prices, spec({**transform, "share": 0.5}))
    # A free model (nothing priced) is not an embedding model: traffic may move to it.
    free = {**PRICES, "free": {"input": 0.0, "output": 0.0, "tier": "small"}}
    moved = {**transform, "share": 0.5}
    moved.update({k: "free" for k in ("to", "small") if k in moved})
    assert run_scenario(flat_demand(), free, spec(moved)).savings > 0


def test_linear_ramp_halfway_gives_half_the_effect():
    res = run_scenario(
        flat_demand(),
        PRICES,
        spec(
            {
                "type": "shift",
                "from": {"model": "frontier"},
                "to": "tenth",
                "share": 1.0,
                "ramp": "linear",
                "months": 12,
                "start": "2025-01-01",
            }
        ),
    )
    full = pd.Series(res.monthly["savings_pct"].astype(float))
    # July 1 is 181 days = 5.95 months in: the mid-July day is ~half way.
    daily_share = (
        (pd.Timestamp("2025-07-02") - pd.Timestamp("2025-01-01")).days / (365.25 / 12) / 12
    )
    assert daily_share == pytest.approx(0.5, abs=0.01)
    assert full[pd.Period("2025-07")] == pytest.approx(90 * 0.5 + 90 / 12 * 0.5, abs=2)


def test_transforms_compose_in_list_order():
    shift = {"type": "shift", "from": {"model": "frontier"}, "to": "tenth", "share": 1.0}
    grow = {"type": "growth", "factor": 2.0, "where": {"model": "tenth"}}
    shift_then_grow = run_scenario(flat_demand(), PRICES, spec(shift, grow))
    grow_then_shift = run_scenario(flat_demand(), PRICES, spec(grow, shift))
    base = float(shift_then_grow.baseline_total)
    assert float(shift_then_grow.total) == pytest.approx(base / 10 * 2, abs=0.05)
    assert float(grow_then_shift.total) == pytest.approx(base / 10, abs=0.05)


def test_other_transforms_by_hand():
    base = BASE_DAY * 365
    cases = [
        ({"type": "fewer_calls", "reduction": 0.25}, 0.75 * base),
        ({"type": "shorter_context", "reduction": 0.5}, 365 * (0.5e6 * 1e-5 + 2.5e5 * 4e-5)),
        ({"type": "cache_hit", "share": 0.5}, 365 * (0.5e6 * 1e-5 + 0.5e6 * 1e-6 + 10)),
        ({"type": "growth", "factor": 3}, 3 * base),
        ({"type": "price_change", "model": "frontier", "prices": {"output": 0.0}}, 365 * 10),
    ]
    for transform, expected in cases:
        res = run_scenario(flat_demand(), PRICES, spec(transform))
        assert float(res.total) == pytest.approx(expected, abs=0.05), transform


def test_monthly_deflation_and_growth_compound():
    res = run_scenario(
        flat_demand(),
        PRICES,
        spec({"type": "price_change", "model": "frontier", "monthly_change": -0.1}),
    )
    months = res.monthly["spend"].astype(float)
    assert months.iloc[-1] / 31 < 20 * 0.9**10


def test_route_by_tier():
    res = run_scenario(
        flat_demand(model="tenth"),
        PRICES,
        spec(
            {"type": "route", "tier": "mid", "share": 0.5, "small": "tiny", "frontier": "frontier"}
        ),
    )
    assert float(res.total) == pytest.approx(365 * (0.5 * 20 + 0.5 * 0.2), abs=0.05)
    assert (res.by_tier["mid"] == 0).all()
    assert float(res.by_tier["frontier"].sum()) == pytest.approx(365 * 10, abs=0.05)


def test_break_even_month():
    res = run_scenario(
        flat_demand(),
        PRICES,
        spec({"type": "shift", "from": {"model": "frontier"}, "to": "tenth", "share": 1.0}),
        migration_cost=1000,
    )
    # saves $18/day: $558 in January, $1062 by end of February.
    assert res.break_even == pd.Period("2025-02")


def test_intervals_from_lower_and_upper_demand():
    demand = {
        "mean": flat_demand(),
        "lower": flat_demand(scale=0.5),
        "upper": flat_demand(scale=2.0),
    }
    res = run_scenario(demand, PRICES, spec())
    assert (res.monthly["lower"] < res.monthly["spend"]).all()
    assert (res.monthly["spend"] < res.monthly["upper"]).all()


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (
            spec(
                {"type": "growth", "factor": 2},
                {"type": "shift", "from": {"model": "a"}, "to": "b", "share": 1.5},
            ),
            r"transforms\[1\]\.share: must be between 0 and 1",
        ),
        (spec({"type": "teleport"}), r"transforms\[0\]\.type"),
        (
            spec({"type": "shift", "from": {"colour": "a"}, "to": "b", "share": 1}),
            r"transforms\[0\]\.from",
        ),
        (
            spec({"type": "shift", "from": {"model": "a"}, "to": "b", "share": 1, "ramp": "zig"}),
            r"transforms\[0\]\.ramp",
        ),
        (
            spec({"type": "cache_hit", "share": 0.5, "start": "not a date"}),
            r"transforms\[0\]\.start",
        ),
        ({"transforms": []}, "name"),
    ],
)
def test_bad_spec_names_the_field(bad, field):
    with pytest.raises(ScenarioError, match=field):
        validate_spec(bad)


def test_goal_seek_finds_the_share_for_a_3x_cut():
    s = spec({"type": "shift", "from": {"model": "frontier"}, "to": "tenth", "share": 0.0})
    demand = {
        "mean": flat_demand(),
        "lower": flat_demand(scale=0.8),
        "upper": flat_demand(scale=1.2),
    }
    result = goal_seek(demand, PRICES, s, cut=3)
    # (1 - s) + s / 10 = 1 / 3  ->  s = (2 / 3) / 0.9
    assert result.share == pytest.approx((2 / 3) / 0.9, abs=1e-4)
    assert result.share_lower < result.share < result.share_upper
    assert result.spend == pytest.approx(result.target, rel=1e-4)
    impossible = goal_seek(demand, PRICES, s, cut=20)
    assert impossible.share is None


def test_presets_show_prices_and_validate():
    prices = {
        **PRICES,
        "gpt-5.5": {"input": 5e-6, "output": 3e-5, "tier": "frontier"},
        "deepseek-v4-flash": {"input": 1.4e-7, "output": 2.8e-7, "tier": "small"},
        "gpt-5.4-mini": {"input": 7.5e-7, "output": 4.5e-6, "tier": "small"},
        "claude-opus-4-7": {"input": 5e-6, "output": 2.5e-5, "tier": "frontier"},
        "glm-5.1": {"input": 1e-6, "output": 3.2e-6, "tier": "mid"},
    }
    swap = preset_gpt55_to_deepseek_v4_flash(prices)
    assert "$5.00 in / $30.00 out" in swap["description"]
    assert "$0.14 in / $0.28 out" in swap["description"]
    assert "gpt-5.4-mini ($0.75 in" in preset_gpt55_to_gpt54_mini(prices)["description"]
    mix = preset_frontier_open_mix(prices)
    assert "glm-5.1 ($1.00 in / $3.20 out" in mix["description"]
    res = run_scenario(flat_demand(model="gpt-5.5"), prices, swap)
    assert res.savings > 0
    with pytest.raises(ScenarioError, match=r"no price for model 'gpt-5\.5'"):
        preset_gpt55_to_gpt54_mini(PRICES)


def test_fewer_calls_and_shorter_context_preset_by_hand():
    preset = preset_fewer_calls_shorter_context(PRICES, calls=0.2, context=0.3, months=1)
    assert preset["description"].startswith("20% fewer calls and 30% shorter prompts")
    res = run_scenario(flat_demand(), PRICES, preset)
    # At full effect: 0.8 of the calls, each with 0.7 of its input tokens, output unchanged.
    day = 0.8 * (0.7 * 1e6 * 1e-5 + 2.5e5 * 4e-5)
    last = res.monthly.iloc[-1]
    days = DATES[DATES.to_period("M") == DATES[-1].to_period("M")].size
    assert float(last["spend"]) == pytest.approx(day * days, abs=0.01)
    with pytest.raises(ScenarioError, match="calls"):
        preset_fewer_calls_shorter_context(PRICES, calls=1.5)
