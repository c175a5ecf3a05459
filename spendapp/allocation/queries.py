"""Read helpers over the allocated rollup for the dashboard, budgets and data health.

All read ``AllocatedSpend`` (one indexed table), never the raw rows. Dates are UTC days,
``date_to`` inclusive, like ``usage.queries``. Money is Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from spendapp.allocation.models import AllocatedSpend, Team
from spendapp.providers.models import ProviderEntity
from spendapp.usage.queries import INPUT_COLUMNS, NO_COST_CENTRE, QueryError

UNALLOCATED = "unallocated"
UNALLOCATED_LABEL = "Unallocated"
NO_COST_CENTRE_LABEL = "No cost centre"
# Filter names -> AllocatedSpend columns (the same public names as usage.queries.GROUPINGS).
FILTERS = {
    "provider": "provider",
    "account": "account__name",
    "project": "project_id",
    "model": "model",
    "api_key": "api_key_id",
    "user": "user_id",
}
MEASURES = {"estimated": "estimated_cost", "billed": "billed_cost"}


def subtree_ids(team_id: int) -> list[int]:
    """The team and every team below it. The tree is small: one query, walked in Python."""
    children: dict[int | None, list[int]] = {}
    for pk, parent in Team.objects.values_list("pk", "parent_id"):
        children.setdefault(parent, []).append(pk)
    found, todo = [], [team_id]
    while todo:
        node = todo.pop()
        if node in found:
            continue
        found.append(node)
        todo.extend(children.get(node, ()))
    return found


def _team_filter(values: Iterable) -> Q:
    """Teams by id (with their subtrees); "unallocated" selects the unallocated bucket."""
    condition = Q(pk__in=[])
    ids: list[int] = []
    for value in values:
        if str(value).lower() == UNALLOCATED:
            condition |= Q(team__isnull=True)
            continue
        try:
            ids.extend(subtree_ids(int(value)))
        except (TypeError, ValueError):
            raise QueryError(f"team: expected team ids or {UNALLOCATED}, got {value!r}") from None
    if ids:
        condition |= Q(team_id__in=ids)
    return condition


def filtered(date_from: date, date_to: date, filters: Mapping[str, Iterable] | None = None):
    """AllocatedSpend of a date range with dashboard filters: provider, account (name),
    project, model, api_key, user, team (ids incl. descendants, or "unallocated"),
    cost_centre (ids)."""
    if date_to < date_from:
        raise QueryError("to: must not be before from")
    rows = AllocatedSpend.objects.filter(day__gte=date_from, day__lte=date_to)
    for key, values in (filters or {}).items():
        values = list(values)
        if key == "team":
            rows = rows.filter(_team_filter(values))
        elif key == "cost_centre":
            rows = rows.filter(cost_centre_id__in=values)
        elif key in FILTERS:
            rows = rows.filter(**{f"{FILTERS[key]}__in": values})
        else:
            raise QueryError(f"filter: unknown field {key}")
    return rows


def _sums() -> dict:
    return {
        "input_tokens": Sum(sum((F(c) for c in INPUT_COLUMNS[1:]), F(INPUT_COLUMNS[0]))),
        "output_tokens": Sum("output_tokens"),
        "requests": Sum("requests"),
        "estimated_cost": Sum("estimated_cost"),
        "billed_cost": Sum("billed_cost"),
        "spend": Sum("spend"),
    }


def spend_by_team(
    date_from: date,
    date_to: date,
    *,
    by: str = "team",
    granularity: str | None = None,
    filters: Mapping[str, Iterable] | None = None,
) -> list[dict]:
    """Spend per team (``by="team"``) or per cost centre (``by="cost_centre"``), optionally
    per "day" or "month". Rows: {date?, id, name, input_tokens, output_tokens, requests,
    estimated_cost, billed_cost, spend}; id None + name "Unallocated" is the unallocated bucket
    (and, by cost centre, "No cost centre" for allocated spend outside any department).
    billed_cost is None where nothing of the group was billed at the rollup's grain."""
    if by not in ("team", "cost_centre"):
        raise QueryError("by: expected team or cost_centre")
    if granularity not in (None, "day", "month"):
        raise QueryError("granularity: expected day or month")
    rows: QuerySet = filtered(date_from, date_to, filters)
    columns: dict = {
        "g_id": F(f"{by}_id"),
        "g_allocated": ExpressionWrapper(Q(team__isnull=False), output_field=BooleanField()),
    }
    if granularity:
        columns["period"] = F("day") if granularity == "day" else TruncMonth("day")
    names = dict(Team.objects.values_list("pk", "name"))
    result = []
    for row in rows.values(**columns).annotate(**_sums()).order_by(*columns):
        if row["g_id"] is not None:
            name = names.get(row["g_id"], str(row["g_id"]))
        elif row["g_allocated"]:
            name = NO_COST_CENTRE_LABEL
        else:
            name = UNALLOCATED_LABEL
        out = {"date": row["period"]} if granularity else {}
        out.update(
            id=row["g_id"],
            name=name,
            input_tokens=int(row["input_tokens"] or 0),
            output_tokens=int(row["output_tokens"] or 0),
            requests=int(row["requests"] or 0),
            estimated_cost=row["estimated_cost"] or Decimal(0),
            billed_cost=row["billed_cost"],
            spend=row["spend"] or Decimal(0),
        )
        result.append(out)
    return result


def team_spend(
    team_id: int, date_from: date, date_to: date, *, measure: str = "estimated"
) -> Decimal:
    """Spend of a team or cost centre and everything below it over [date_from, date_to]
    (UTC days, inclusive), shared-cost shares included. ``measure`` is "estimated" (every
    grain, the default) or "billed" (only what the provider billed at a grain a rule maps)."""
    if measure not in MEASURES:
        raise QueryError(f"measure: expected one of {', '.join(MEASURES)}")
    total = (
        AllocatedSpend.objects.filter(
            team_id__in=subtree_ids(team_id), day__gte=date_from, day__lte=date_to
        )
        .aggregate(total=Sum(MEASURES[measure]))
        .get("total")
    )
    return total or Decimal(0)


def top_unallocated(date_from: date, date_to: date, *, limit: int = 20) -> list[dict]:
    """The biggest unallocated (account, project, API key) combinations of the range, by
    estimated cost: what to write rules for next. Rows: {provider, account_id, account,
    project_id, project_name, api_key_id, api_key_name, estimated_cost, billed_cost,
    tokens}."""
    rows = (
        AllocatedSpend.objects.filter(team__isnull=True, day__gte=date_from, day__lte=date_to)
        .values("provider", "account_id", "account__name", "project_id", "api_key_id")
        .annotate(
            est=Sum("estimated_cost"),
            billed=Sum("billed_cost"),
            tokens=Sum(
                F("input_uncached_tokens")
                + F("input_cached_tokens")
                + F("cache_write_tokens")
                + F("cache_write_1h_tokens")
                + F("output_tokens")
            ),
        )
        .order_by(F("est").desc(nulls_last=True), F("billed").desc(nulls_last=True))[:limit]
    )
    rows = list(rows)
    accounts = {r["account_id"] for r in rows}
    names = {
        (account, kind, external): name
        for account, kind, external, name in ProviderEntity.objects.filter(
            account_id__in=accounts, kind__in=("project", "api_key")
        ).values_list("account_id", "kind", "external_id", "name")
    }
    return [
        {
            "provider": r["provider"],
            "account_id": r["account_id"],
            "account": r["account__name"],
            "project_id": r["project_id"],
            "project_name": names.get((r["account_id"], "project", r["project_id"]), ""),
            "api_key_id": r["api_key_id"],
            "api_key_name": names.get((r["account_id"], "api_key", r["api_key_id"]), ""),
            "estimated_cost": r["est"] or Decimal(0),
            "billed_cost": r["billed"],
            "tokens": int(r["tokens"] or 0),
        }
        for r in rows
    ]


def allocation_summary(date_from: date, date_to: date) -> dict:
    """Allocated and unallocated estimated/billed totals of the range (for page headers)."""
    sums = AllocatedSpend.objects.filter(day__gte=date_from, day__lte=date_to).aggregate(
        allocated_est=Sum("estimated_cost", filter=Q(team__isnull=False)),
        unallocated_est=Sum("estimated_cost", filter=Q(team__isnull=True)),
        allocated_billed=Sum("billed_cost", filter=Q(team__isnull=False)),
        unallocated_billed=Sum("billed_cost", filter=Q(team__isnull=True)),
    )
    return {key: value or Decimal(0) for key, value in sums.items()}


def allocated_rows(date_from: date, date_to: date, teams: Iterable[str] | None):
    """Allocated rows for `spendapp.usage.queries` (``team`` filter by names: each team with
    the teams below it; "" = unallocated). An unknown team name raises QueryError."""
    if teams is None:
        return filtered(date_from, date_to)
    names = [name for name in teams if name]
    found = dict(Team.objects.filter(name__in=names).values_list("name", "pk"))
    missing = [name for name in names if name not in found]
    if missing:
        raise QueryError(f"team: no team named {missing[0]!r}")
    keys = [*(found[name] for name in names), *([UNALLOCATED] if "" in teams else [])]
    return filtered(date_from, date_to, {"team": keys})


def team_and_cost_centre_names() -> tuple[set[str], set[str]]:
    """Team names (every team: one selects the teams below it too) and cost-centre names
    (departments, and "No cost centre" when some team sits under none). One query."""
    tree = {
        pk: (name, kind, parent)
        for pk, name, kind, parent in Team.objects.values_list("pk", "name", "kind", "parent_id")
    }
    teams, centres = set(), set()
    for pk, (name, kind, _) in tree.items():
        teams.add(name)
        seen, node = set(), pk
        while node is not None and node not in seen and tree[node][1] != "department":
            seen.add(node)
            node = tree[node][2]
        centres.add(tree[node][0] if node is not None and node not in seen else NO_COST_CENTRE)
        if kind == "department":
            centres.add(name)
    return teams, centres
