"""One pass of the procedure: backtest the candidates, combine, select, fit the error model.

Selection rule
--------------
Eight origins cannot reliably separate eight candidates whose MASEs differ by a few percent:
picking the lowest backtest MASE then mostly picks noise, and its errors are the smallest
*because* it was picked. So besides the single candidates there is one robust combination,
the **median** of the forecasts of the better half of the candidates (at least 3, at most 5;
seasonal naive excluded), step by step. The median ignores one candidate gone wrong, and
combinations of exponential smoothing and Theta models are the most reliable forecasts in the
M3/M4 competitions. A single candidate is chosen over the combination only when the backtest
separates them: its MASE is at least ``MARGIN`` lower *and* it is better at ``WIN_SHARE`` of
the origins (with 8 origins: 6 of them). Otherwise the combination is chosen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from forecasting.backtest import Plan, Rejection, Run, actuals, mase_scale, run_candidate
from forecasting.backtest import sanity_band as _sanity_band
from forecasting.intervals import ErrorModel, fit_error_model, loo_coverage
from forecasting.models import Candidate

BASELINE = "snaive"
MARGIN = 0.05
WIN_SHARE = 0.75
COMBINE_MIN, COMBINE_MAX = 3, 5


@dataclass(frozen=True)
class Selected:
    """Outcome of one pass: final point forecast, error model, name and score rows."""

    final: np.ndarray
    errors: ErrorModel
    model: str
    rows: list[dict]
    coverage: float


def run_all(
    candidates: Sequence[type[Candidate]],
    series,
    season: int,
    plan: Plan,
    horizon: int,
    notes: list[str],
    rejected: list[Rejection],
) -> list[Run]:
    """Backtest every applicable candidate under the guard; notes say what was skipped."""
    values = series.to_numpy()
    band = _sanity_band(values)
    runs = []
    for cls in candidates:
        model = cls(series, season=season, estimate_until=plan.estimate_until)
        reason = _not_applicable(model, values, plan)
        if reason:
            notes.append(f"{model.name}: skipped, {reason}")
            continue
        outcome = run_candidate(model, plan, horizon, band=band)
        if isinstance(outcome, Rejection):
            rejected.append(outcome)
            notes.append(f"{outcome.model}: rejected ({outcome.reason}); next candidate taken")
        else:
            runs.append(outcome)
    return runs


def _not_applicable(model: Candidate, values: np.ndarray, plan: Plan) -> str:
    if plan.estimate_until < model.min_points:
        return (
            f"needs {model.min_points} points before the first backtest origin, "
            f"has {plan.estimate_until}"
        )
    if model.positive_only and values.min() <= 0:
        return "needs every value > 0 (multiplicative season)"
    if model.nonnegative_only and values.min() < 0:
        return "needs values >= 0 (log scale)"
    return ""


def origin_mase(values: np.ndarray, plan: Plan, backtest: np.ndarray, season: int) -> np.ndarray:
    """MASE at each origin (MAE scaled by the in-sample seasonal naive MAE there)."""
    truth = actuals(values, plan)
    scales = np.array([mase_scale(values[:o], season) for o in plan.origins])
    return np.mean(np.abs(truth - backtest), axis=1) / scales


def median_combination(runs: list[Run], per_origin: dict[str, np.ndarray]) -> Run | None:
    """Step-wise median of the better half of the non-baseline runs (3 to 5 of them)."""
    ranked = sorted(
        (r for r in runs if r.name != BASELINE), key=lambda r: per_origin[r.name].mean()
    )
    size = min(COMBINE_MAX, max(COMBINE_MIN, -(-len(ranked) // 2)))
    parts = ranked[:size]
    if len(parts) < COMBINE_MIN:
        return None
    return Run(
        name="median(" + "+".join(sorted(r.name for r in parts)) + ")",
        backtest=np.median([r.backtest for r in parts], axis=0),
        final=np.median([r.final for r in parts], axis=0),
        seconds=0.0,
    )


def _separates(single: np.ndarray, combo: np.ndarray) -> bool:
    better_on_average = single.mean() <= (1.0 - MARGIN) * combo.mean()
    return bool(better_on_average and np.mean(single < combo) >= WIN_SHARE)


def select(
    runs: list[Run],
    values: np.ndarray,
    plan: Plan,
    season: int,
    level: float,
    *,
    combine: bool,
    nonnegative: bool,
    report: bool = True,
) -> Selected:
    """Score the runs, add the median combination and choose by the rule above.

    ``report=False`` (the calibration's earlier runs: only their forecast and error model are
    used) skips the score rows and their leave-one-origin-out coverage, a sixth of the cost.
    """
    clip = (lambda a: np.clip(a, 0.0, None)) if nonnegative else (lambda a: a)
    per_origin = {r.name: origin_mase(values, plan, clip(r.backtest), season) for r in runs}
    singles = [r for r in runs if r.name != BASELINE] or runs
    best = min(singles, key=lambda r: per_origin[r.name].mean())
    combo = median_combination(runs, per_origin) if combine else None
    if combo is not None:
        runs = [*runs, combo]
        per_origin[combo.name] = origin_mase(values, plan, clip(combo.backtest), season)
        if not _separates(per_origin[best.name], per_origin[combo.name]):
            best = combo
    truth = actuals(values, plan)
    errors = fit_error_model(truth - clip(best.backtest))
    if not report:
        return Selected(final=best.final, errors=errors, model=best.name, rows=[], coverage=np.nan)
    baseline = per_origin.get(BASELINE)
    base = float(baseline.mean()) if baseline is not None else 0.0
    rows = []
    for run in runs:
        score = float(per_origin[run.name].mean())
        rows.append(
            {
                "model": run.name,
                "mase": score,
                "relative_mase": score / base if base > 0 else np.nan,
                "coverage": loo_coverage(truth - clip(run.backtest), level),
                "seconds": run.seconds,
                "chosen": run is best,
            }
        )
    chosen = next(row for row in rows if row["chosen"])
    return Selected(
        final=best.final,
        errors=errors,
        model=best.name,
        rows=rows,
        coverage=chosen["coverage"],
    )
