"""Set-based allocation of the daily rollup to teams, and the "what would this rule move"
preview. Both use the same rule-matching SQL, so the preview cannot disagree with the result.

``recompute_allocation(date_from, date_to)`` replaces ``AllocatedSpend`` for the days in
[date_from, date_to] (inclusive) in one transaction:

1. match: every DailySpend row of the range joins the rules of each dimension (equi-joins on
   the matched column, one arm per dimension), and ``DISTINCT ON`` keeps the winner: lowest
   priority, then the more specific dimension, then the oldest rule. No winner = unallocated.
2. direct rows: each DailySpend row whose winner is a team (or no rule) is copied once.
3. shared rows: each row whose winner is a shared pool is copied once per participating team,
   weighted by the fixed percentage or by the team's (subtree's) direct estimated spend that
   day. Shares are cumulative-rounded differences, round(x * upto / W) - round(x * before / W),
   which telescope to exactly x: the shares of every measure add up to the last decimal.

Running it twice gives the same rows; an advisory lock serialises concurrent recomputes
(two syncs finishing windows of the same day), which would otherwise both delete the old rows
and both insert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction

_LOCK_KEY = (7302, 0)  # advisory lock "allocation recompute" (7301 is the account sync)

MEASURES = (
    "input_uncached_tokens",
    "input_cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "requests",
    "unpriced_tokens",
)
MONEY = ("estimated_cost", "billed_cost", "calibrated_cost", "spend")
DIMS = ("day", "account_id", "provider", "project_id", "model", "api_key_id", "user_id")
_RULE_COLUMNS = (
    "id, dimension, account_id, value, team_id, shared_cost_id, priority, valid_from, valid_until"
)
_SPECIFICITY = (
    "CASE c.dimension WHEN 'user' THEN 1 WHEN 'api_key' THEN 2 WHEN 'project' THEN 3 "
    "WHEN 'model' THEN 4 ELSE 5 END"
)
_DIMENSION_COLUMNS = (
    ("project", "project_id"),
    ("api_key", "api_key_id"),
    ("user", "user_id"),
    ("model", "model"),
)
_IN_FORCE = "r.valid_from <= s.day AND (r.valid_until IS NULL OR s.day < r.valid_until)"
_PICK = "s.id AS spend_id, r.id AS rule_id, r.priority, r.dimension, r.team_id, r.shared_cost_id"


def winner_sql(rules: str) -> str:
    """SELECT (spend_id, rule_id, team_id, shared_cost_id) of the winning rule of every row of
    the ``spend`` CTE that some rule of the ``rules`` CTE matches. Constant text only."""
    if rules not in ("rules", "new_rules"):
        raise ValueError(f"unknown rules CTE {rules!r}")
    # Constant fragments and a checked CTE name only: S608 does not apply.
    arms = [
        f"SELECT {_PICK} FROM spend s JOIN {rules} r ON r.dimension = '{dim}' "  # noqa: S608
        f"AND r.value = s.{column} AND (r.account_id IS NULL OR r.account_id = s.account_id) "
        f"AND {_IN_FORCE}"
        for dim, column in _DIMENSION_COLUMNS
    ]
    arms.append(
        f"SELECT {_PICK} FROM spend s JOIN {rules} r ON r.dimension = 'account' "  # noqa: S608
        f"AND r.account_id = s.account_id AND {_IN_FORCE}"
    )
    return (
        "SELECT DISTINCT ON (c.spend_id) c.spend_id, c.rule_id, c.team_id, c.shared_cost_id "  # noqa: S608
        f"FROM ({' UNION ALL '.join(arms)}) c "
        f"ORDER BY c.spend_id, c.priority, {_SPECIFICITY}, c.rule_id"
    )


_SPEND = "SELECT * FROM usage_dailyspend WHERE day >= %(d0)s AND day <= %(d1)s"
_CURRENT_RULES = f"SELECT {_RULE_COLUMNS} FROM allocation_allocationrule"  # noqa: S608

# Every statement below is composed of the constant fragments above, never of input.
_BASE = f"""
CREATE TEMP TABLE alloc_base ON COMMIT DROP AS
WITH spend AS ({_SPEND}), rules AS ({_CURRENT_RULES}), winner AS ({winner_sql("rules")})
SELECT s.*, w.rule_id, w.team_id, w.shared_cost_id
FROM spend s LEFT JOIN winner w ON w.spend_id = s.id
"""  # noqa: S608

# Ancestor/descendant pairs (with distance) of the team tree; the depth bound keeps a cycle
# that slipped past validation from looping forever.
_CLOSURE = """
CREATE TEMP TABLE alloc_closure ON COMMIT DROP AS
WITH RECURSIVE c(ancestor, descendant, depth) AS (
    SELECT id, id, 0 FROM allocation_team
    UNION ALL
    SELECT t.parent_id, c.descendant, c.depth + 1
    FROM c JOIN allocation_team t ON t.id = c.ancestor
    WHERE t.parent_id IS NOT NULL AND c.depth < 32
)
SELECT ancestor, descendant, depth FROM c
"""
# Cost centre of each team: the nearest department at or above it.
_COST_CENTRES = """
CREATE TEMP TABLE alloc_cc ON COMMIT DROP AS
SELECT DISTINCT ON (c.descendant) c.descendant AS team_id, c.ancestor AS cost_centre_id
FROM alloc_closure c JOIN allocation_team a ON a.id = c.ancestor AND a.kind = 'department'
ORDER BY c.descendant, c.depth
"""
_DELETE = "DELETE FROM allocation_allocatedspend WHERE day >= %(d0)s AND day <= %(d1)s"

_INSERT_COLUMNS = ", ".join(
    (*DIMS, "team_id", "cost_centre_id", "rule_id", "shared_cost_id", *MEASURES, *MONEY)
)
# Direct rows, unallocated rows, and rows of a shared pool without participants (kept
# unallocated with their pool id, so data health can say why).
_INSERT_DIRECT = f"""
INSERT INTO allocation_allocatedspend ({_INSERT_COLUMNS})
SELECT {", ".join(f"b.{d}" for d in DIMS)},
    CASE WHEN b.shared_cost_id IS NULL THEN b.team_id END,
    CASE WHEN b.shared_cost_id IS NULL THEN cc.cost_centre_id END,
    b.rule_id, b.shared_cost_id, {", ".join(f"b.{m}" for m in (*MEASURES, *MONEY))}
FROM alloc_base b LEFT JOIN alloc_cc cc ON cc.team_id = b.team_id
WHERE b.shared_cost_id IS NULL OR NOT EXISTS (
    SELECT 1 FROM allocation_sharedcostshare p WHERE p.shared_cost_id = b.shared_cost_id)
"""  # noqa: S608


def _share(column: str, scale: int | None) -> str:
    digits = "" if scale is None else f", {scale}"
    return (
        f"round(b.{column} * w.upto / w.total{digits}) "
        f"- round(b.{column} * (w.upto - w.w) / w.total{digits})"
    )


_INSERT_SHARED = f"""
INSERT INTO allocation_allocatedspend ({_INSERT_COLUMNS})
WITH basis AS (
    -- Direct estimated spend per day of every team's subtree: the proportional weights.
    SELECT b.day, c.ancestor AS team_id, sum(b.estimated_cost) AS amount
    FROM alloc_base b JOIN alloc_closure c ON c.descendant = b.team_id
    WHERE b.shared_cost_id IS NULL
    GROUP BY b.day, c.ancestor
), parts AS (
    SELECT b.id AS spend_id, p.team_id,
        greatest(CASE WHEN sc.method = 'fixed' THEN p.percent
                      ELSE coalesce(basis.amount, 0) END, 0) AS w
    FROM alloc_base b
    JOIN allocation_sharedcost sc ON sc.id = b.shared_cost_id
    JOIN allocation_sharedcostshare p ON p.shared_cost_id = b.shared_cost_id
    LEFT JOIN basis ON basis.day = b.day AND basis.team_id = p.team_id
), fallback AS (
    -- All weights zero (no participant had direct spend that day): equal shares, so the
    -- pool is still split rather than dropped.
    SELECT spend_id, team_id,
        CASE WHEN sum(w) OVER (PARTITION BY spend_id) > 0 THEN w ELSE 1 END AS w
    FROM parts
), w AS (
    SELECT spend_id, team_id, w,
        sum(w) OVER (PARTITION BY spend_id ORDER BY team_id) AS upto,
        sum(w) OVER (PARTITION BY spend_id) AS total
    FROM fallback
)
SELECT {", ".join(f"b.{d}" for d in DIMS)}, w.team_id, cc.cost_centre_id, b.rule_id,
    b.shared_cost_id, {", ".join(_share(m, None) for m in MEASURES)},
    {", ".join(_share(m, 12) for m in MONEY)}
FROM w JOIN alloc_base b ON b.id = w.spend_id LEFT JOIN alloc_cc cc ON cc.team_id = w.team_id
"""  # noqa: S608


def recompute_allocation(date_from: date, date_to: date) -> int:
    """Rebuild the allocated rollup for the UTC days date_from..date_to (inclusive) from
    DailySpend and the current rules. Idempotent; returns the number of rows written."""
    if date_to < date_from:
        return 0
    params = {"d0": date_from, "d1": date_to}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", _LOCK_KEY)
        # Several recomputes can share one outer transaction (one per synced window).
        cursor.execute("DROP TABLE IF EXISTS alloc_base, alloc_closure, alloc_cc")
        cursor.execute(_BASE, params)
        # A fresh temp table has no statistics; the split's joins need a row estimate.
        cursor.execute("ANALYZE alloc_base")
        cursor.execute(_CLOSURE)
        cursor.execute(_COST_CENTRES)
        cursor.execute(_DELETE, params)
        cursor.execute(_INSERT_DIRECT)
        written = cursor.rowcount
        cursor.execute(_INSERT_SHARED)
        written += cursor.rowcount
        cursor.execute("DROP TABLE alloc_base, alloc_closure, alloc_cc")
    return written


def recompute_allocation_for_window(start: datetime, end: datetime) -> int:
    """``recompute_allocation`` for every UTC day that [start, end) touches: the call the
    sync makes after ``refresh_rollup`` of a window, inside the window's transaction."""
    first = start.astimezone(UTC).date()
    last = (end - timedelta(microseconds=1)).astimezone(UTC).date()
    return recompute_allocation(first, last)


# --- preview -------------------------------------------------------------------------------


@dataclass
class Movement:
    from_label: str
    to_label: str
    estimated_cost: Decimal
    billed_cost: Decimal | None
    rows: int


@dataclass
class RulePreview:
    date_from: date
    date_to: date
    estimated_cost: Decimal = Decimal(0)
    billed_cost: Decimal = Decimal(0)
    rows: int = 0
    movements: list[Movement] = field(default_factory=list)


_PREVIEW = f"""
WITH spend AS ({_SPEND}),
rules AS ({_CURRENT_RULES}),
new_rules AS (
    {_CURRENT_RULES} WHERE id <> %(exclude)s
    UNION ALL
    SELECT %(id)s::bigint, %(dimension)s::varchar, %(account)s::bigint, %(value)s::varchar,
        %(team)s::bigint, %(shared)s::bigint, %(priority)s::integer, %(valid_from)s::date,
        %(valid_until)s::date
),
old AS ({winner_sql("rules")}),
new AS ({winner_sql("new_rules")})
SELECT o.team_id, o.shared_cost_id, n.team_id, n.shared_cost_id,
    coalesce(sum(s.estimated_cost), 0), sum(s.billed_cost), count(*)
FROM spend s LEFT JOIN old o ON o.spend_id = s.id LEFT JOIN new n ON n.spend_id = s.id
WHERE (o.team_id, o.shared_cost_id) IS DISTINCT FROM (n.team_id, n.shared_cost_id)
GROUP BY 1, 2, 3, 4
ORDER BY 5 DESC
"""  # noqa: S608


_NEW_RULE_ID = 2**63 - 1


def last_month(today: date | None = None) -> tuple[date, date]:
    today = today or datetime.now(UTC).date()
    last = today.replace(day=1) - timedelta(days=1)
    return last.replace(day=1), last


def preview_rule(rule, date_from: date | None = None, date_to: date | None = None) -> RulePreview:
    """How much spend of [date_from, date_to] (default: last calendar month) would change
    hands if ``rule`` (unsaved, or an edited saved rule) were saved, and between whom."""
    from spendapp.allocation.models import SharedCost, Team

    if date_from is None or date_to is None:
        date_from, date_to = last_month()
    params = {
        "d0": date_from,
        "d1": date_to,
        "exclude": rule.pk or 0,
        # An unsaved rule will get the highest id: it loses ties like it will once saved.
        "id": rule.pk or _NEW_RULE_ID,
        "dimension": rule.dimension,
        "account": rule.account_id,
        "value": rule.value or "",
        "team": rule.team_id,
        "shared": rule.shared_cost_id,
        "priority": rule.priority,
        "valid_from": rule.valid_from,
        "valid_until": rule.valid_until,
    }
    with connection.cursor() as cursor:
        cursor.execute(_PREVIEW, params)
        rows = cursor.fetchall()
    teams = dict(Team.objects.values_list("pk", "name"))
    pools = dict(SharedCost.objects.values_list("pk", "name"))

    def label(team_id, shared_id) -> str:
        if shared_id is not None:
            return f"shared: {pools.get(shared_id, shared_id)}"
        return teams.get(team_id, "Unallocated") if team_id is not None else "Unallocated"

    preview = RulePreview(date_from, date_to)
    for old_team, old_shared, new_team, new_shared, est, billed, count in rows:
        preview.movements.append(
            Movement(label(old_team, old_shared), label(new_team, new_shared), est, billed, count)
        )
        preview.estimated_cost += est
        preview.billed_cost += billed or 0
        preview.rows += count
    return preview
