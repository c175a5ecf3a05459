"""Derived rollups: DailySpend summed over fewer dimensions, and the dimension combinations
seen per month, so that a year of dashboard reads a few thousand rows instead of hundreds of
thousands.

PostgreSQL keeps them (migration ``usage.0005_derived_rollups``): statement-level triggers on
``usage_dailyspend`` recompute, from DailySpend, the (account, day) rows of the derived tables
that an INSERT, UPDATE or DELETE touched, and the combinations of the (account, month) it
touched. So whoever writes DailySpend (``ingest.refresh_rollup``, the FOCUS import, a cascade
delete, a test), the derived tables agree with it when the statement ends, in the same
transaction, and a sum read from any of them equals the same sum read from DailySpend.

`rollup_for` is the router: the smallest table that holds every dimension a query needs.
"""

from __future__ import annotations

from spendapp.usage.models import (
    DailyKeySpend,
    DailyModelSpend,
    DailyProjectModelSpend,
    DailyProjectSpend,
    DailySpend,
)

# Smallest first, with the DailySpend columns each keeps besides day, account and provider.
CUBES = (
    (DailyModelSpend, {"model"}),
    (DailyProjectSpend, {"project_id"}),
    (DailyProjectModelSpend, {"project_id", "model"}),
    (DailyKeySpend, {"project_id", "api_key_id"}),
)

# Public dimension names (`spendapp.usage.queries.GROUPINGS`) and rollup columns -> the
# DailySpend columns they need. Every rollup has the day, the account and its provider;
# "tier" is a function of (provider, model).
NEEDS = {
    "day": (),
    "provider": (),
    "account": (),
    "account_id": (),
    "model": ("model",),
    "tier": ("model",),
    "project": ("project_id",),
    "api_key": ("api_key_id",),
    "user": ("user_id",),
}


def rollup_for(keys) -> type:
    """The smallest daily rollup holding every dimension in ``keys`` (public names such as
    "project", or DailySpend columns such as "project_id"): a derived table or DailySpend."""
    columns = set()
    for key in keys:
        columns.update(NEEDS.get(key, (key,)))
    for model, kept in CUBES:
        if columns <= kept:
            return model
    return DailySpend
