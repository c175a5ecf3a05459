"""Preset scenarios. Each takes the price table so its description shows the prices it used.

Prices are per token in the table; descriptions show them per million tokens. Model names are
defaults that can be overridden to match the keys of the caller's price table.
"""

from __future__ import annotations

from collections.abc import Mapping

from forecasting.errors import ScenarioError
from forecasting.scenario_spec import validate_spec


def _price(prices: Mapping, model: str) -> Mapping:
    if model not in prices:
        raise ScenarioError(f"prices: no price for model {model!r} used by the preset")
    return prices[model]


def describe_prices(prices: Mapping, model: str) -> str:
    """``"model ($in in / $out out per 1M tokens)"``."""
    p = _price(prices, model)
    return (
        f"{model} (${float(p['input']) * 1e6:,.2f} in / "
        f"${float(p['output']) * 1e6:,.2f} out per 1M tokens)"
    )


def _blended(prices: Mapping, model: str) -> float:
    p = _price(prices, model)
    # A 3:1 input:output token mix is a common rule of thumb for chat/agent traffic.
    return (3 * float(p["input"]) + float(p["output"])) / 4


def cheapest(prices: Mapping, tier: str) -> str:
    """The cheapest generative model of ``tier`` (3:1 input:output blended price) that is
    priced at all (a free model would make the preset's savings say nothing): a price per
    output token, so `forecasting.demand.generative` by construction."""
    models = [
        m for m, p in prices.items() if p.get("tier") == tier and float(p.get("output", 0)) > 0
    ]
    if not models:
        raise ScenarioError(f"prices: no generative model of tier {tier!r} for the preset")
    return min(models, key=lambda m: _blended(prices, m))


def preset_80_20(
    prices: Mapping,
    *,
    small: str | None = None,
    from_tier: str = "frontier",
    share: float = 0.8,
    months: float = 15,
    start: str | None = None,
) -> dict:
    """80/20: 80% of frontier workloads to a ~99% cheaper small model over 12-18 months.

    The move follows an S-curve that completes after ``months`` (15: the middle of 12-18).
    """
    small = small or cheapest(prices, "small")
    frontier = [m for m, p in prices.items() if p.get("tier") == from_tier]
    if not frontier:
        raise ScenarioError(f"from_tier: no model of tier {from_tier!r} in prices")
    saving = 1 - _blended(prices, small) / (
        sum(_blended(prices, m) for m in frontier) / len(frontier)
    )
    description = (
        f"80/20: {share:.0%} of {from_tier}-tier workloads move to {describe_prices(prices, small)}"
        f", ~{saving:.0%} cheaper than {', '.join(describe_prices(prices, m) for m in frontier)}"
        f"; S-curve ramp over {months:g} months"
    )
    return validate_spec(
        {
            "name": "80/20",
            "description": description,
            "transforms": [
                {
                    "type": "shift",
                    "from": {"tier": from_tier},
                    "to": small,
                    "share": share,
                    "ramp": "s-curve",
                    "months": months,
                    "start": start,
                }
            ],
        }
    )


def preset_frontier_open_mix(
    prices: Mapping,
    *,
    frontier: str = "claude-opus-4-7",
    open_weight: str = "glm-5.1",
    share: float = 0.5,
    tier: str | None = "frontier",
    start: str | None = None,
) -> dict:
    """Frontier + open-weight mix: ``share`` of frontier traffic served by the open model."""
    description = (
        f"Frontier + open-weight mix: {share:.0%} of {tier or 'all'} traffic served "
        f"by {describe_prices(prices, open_weight)}, the rest by "
        f"{describe_prices(prices, frontier)}"
    )
    return validate_spec(
        {
            "name": "Frontier + open-weight mix",
            "description": description,
            "transforms": [
                {
                    "type": "route",
                    "tier": tier,
                    "share": share,
                    "small": open_weight,
                    "frontier": frontier,
                    "start": start,
                }
            ],
        }
    )


def preset_swap(
    prices: Mapping,
    *,
    old: str,
    new: str,
    months: float = 3,
    token_ratio: float = 1.0,
    start: str | None = None,
) -> dict:
    """Swap all traffic of ``old`` for ``new`` with a linear ramp over ``months``."""
    description = (
        f"Swap {describe_prices(prices, old)} for {describe_prices(prices, new)}, "
        f"linear over {months:g} months"
    )
    return validate_spec(
        {
            "name": f"Swap {old} for {new}",
            "description": description,
            "transforms": [
                {
                    "type": "shift",
                    "from": {"model": old},
                    "to": new,
                    "share": 1.0,
                    "ramp": "linear",
                    "months": months,
                    "token_ratio": token_ratio,
                    "start": start,
                }
            ],
        }
    )


def preset_gpt55_to_deepseek_v4_flash(prices: Mapping, **options) -> dict:
    """Swap GPT-5.5 for DeepSeek V4 Flash."""
    options = {"old": "gpt-5.5", "new": "deepseek-v4-flash", **options}
    return preset_swap(prices, **options)


def preset_gpt55_to_gpt54_mini(prices: Mapping, **options) -> dict:
    """Swap GPT-5.5 for GPT-5.4-mini."""
    options = {"old": "gpt-5.5", "new": "gpt-5.4-mini", **options}
    return preset_swap(prices, **options)


def preset_fewer_calls_shorter_context(
    prices: Mapping,
    *,
    calls: float = 0.2,
    context: float = 0.3,
    months: float = 3,
    start: str | None = None,
) -> dict:
    """Engineering work on every model: ``calls`` fewer requests (retries, duplicate calls,
    caching answers) and ``context`` shorter prompts (trimmed history and retrieval), both
    phased in linearly over ``months``. Needs no particular model, so it prices on any org."""
    for name, value in (("calls", calls), ("context", context)):
        if not 0 <= value < 1:
            raise ScenarioError(f"{name}: a reduction between 0 and 1, got {value!r}")
    description = (
        f"{calls:.0%} fewer calls and {context:.0%} shorter prompts on every model, "
        f"linear over {months:g} months"
    )
    ramp = {"ramp": "linear", "months": months, "start": start}
    return validate_spec(
        {
            "name": "Fewer calls and shorter context",
            "description": description,
            "transforms": [
                {"type": "fewer_calls", "reduction": calls, **ramp},
                {"type": "shorter_context", "reduction": context, **ramp},
            ],
        }
    )


PRESETS = {
    "80/20": preset_80_20,
    "frontier-open-mix": preset_frontier_open_mix,
    "gpt-5.5-to-deepseek-v4-flash": preset_gpt55_to_deepseek_v4_flash,
    "gpt-5.5-to-gpt-5.4-mini": preset_gpt55_to_gpt54_mini,
    "fewer-calls-shorter-context": preset_fewer_calls_shorter_context,
}
