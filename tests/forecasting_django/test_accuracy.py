"""Acceptance: the chosen models beat seasonal naive and their 80% intervals are calibrated.

Rolling origins, 28 days held out each. Criteria: geometric mean over windows of the chosen
model's MASE relative to seasonal naive <= 0.90, and pooled 80% coverage in [0.75, 0.85]
([0.75, 0.88] on the calm synthetic series: see tests/forecasting/test_core.py).

Fake provider organisation: ground truth of seed 1 (the fake's default seed, not searched
for), 365 days ending 2026-09-01; the daily billed spend of the organisation and of each
provider; four origins 28 days apart at the end of the year (so the held-out windows tile the
last 112 days, one of them holding a public holiday). With the core's default candidates
this design gave 0.97 and 0.74 (both failing); the robust log candidates of
`forecasting.runs.candidates` are what the stored forecasts use and what is tested here.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from spendapp.providers.fake import truth
from tests.forecasting.synthetic import CALM_COVERAGE_MAX, synthetic
from tests.forecasting_django.accuracy import H, evaluate, summary

ORIGINS = 4


def _run(tasks) -> list:
    # Spawned workers import only the pure forecasting code (no Django, no DB connection).
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(evaluate, tasks))


PROVIDERS = ("openai", "anthropic")


def _fake_series() -> dict[str, pd.Series]:
    # The organisation's two year-long providers (OpenRouter's fake keeps only 30 days).
    rows = pd.DataFrame(
        [r for r in truth(seed=1, days=365, end="2026-09-01") if r["provider"] in PROVIDERS]
    )
    rows["billed_cost"] = rows["billed_cost"].astype(float)
    rows["date"] = pd.to_datetime(rows["date"])
    series = {"total": rows.groupby("date")["billed_cost"].sum()}
    for provider, part in rows.groupby("provider"):
        series[provider] = part.groupby("date")["billed_cost"].sum()
    return series


def _report(windows) -> str:
    return "\n".join(
        f"{w.series:10s} {w.origin} {w.model:45s} rel={w.relative_mae:.3f} "
        f"cov80={w.coverage_80:.2f}"
        for w in windows
    )


def test_fake_organisation_beats_seasonal_naive_with_calibrated_intervals():
    series = _fake_series()
    assert all(len(y) == 365 for y in series.values())
    tasks = [(name, y, len(y) - k * H) for name, y in series.items() for k in range(1, 5)]
    windows = _run(tasks)
    geo, coverage = summary(windows)
    print(f"\nfake org: geo-mean relative MASE {geo:.3f}, 80% coverage {coverage:.3f}")
    print(_report(windows))
    assert geo <= 0.90, _report(windows)
    assert 0.75 <= coverage <= 0.85, _report(windows)


def test_synthetic_series_with_known_truth():
    # The core's own acceptance series (trend, weekly season, AR(1) noise, level shifts),
    # same seeds and origins as tests/forecasting/test_core.py, through the stored
    # forecasts' candidate set: the extra candidates must not cost what the core achieves.
    tasks = [
        (f"seed{seed}", y, len(y) - back)
        for seed in range(12)
        for y in [synthetic(seed)]
        for back in (H, 2 * H, 3 * H)
    ]
    windows = _run(tasks)
    geo, coverage = summary(windows)
    print(f"\nsynthetic: geo-mean relative MASE {geo:.3f}, 80% coverage {coverage:.3f}")
    assert geo <= 0.90, _report(windows)
    assert 0.75 <= coverage <= CALM_COVERAGE_MAX, _report(windows)
