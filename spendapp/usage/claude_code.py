"""The Claude Code usage report, summed for the explorer's Claude Code view: per user (or
API key) and terminal over a date range. These rows are activity, not spend: their
estimated cost is Anthropic's estimate, already inside the cost report for API customers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Count, Sum

from spendapp.usage.models import ClaudeCodeUsage

# Public grouping -> columns.
CLAUDE_CODE_GROUPINGS = {
    "actor": ("actor_type", "actor"),
    "terminal": ("terminal_type",),
    "actor_terminal": ("actor_type", "actor", "terminal_type"),
}
MEASURES = (
    "sessions",
    "lines_added",
    "lines_removed",
    "commits",
    "pull_requests",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_creation_tokens",
    "estimated_cost",
)


@dataclass(frozen=True, slots=True)
class ClaudeCodeRow:
    actor_type: str
    actor: str
    terminal_type: str
    days: int
    sessions: int
    lines_added: int
    lines_removed: int
    commits: int
    pull_requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    estimated_cost: Decimal


def claude_code_rows(date_from: date, date_to: date, by: str = "actor") -> list[ClaudeCodeRow]:
    """Totals of ``date_from``..``date_to`` (inclusive) per ``by`` (`CLAUDE_CODE_GROUPINGS`),
    the largest estimated cost first. One query."""
    try:
        columns = CLAUDE_CODE_GROUPINGS[by]
    except KeyError:
        raise ValueError(f"by: expected one of {', '.join(CLAUDE_CODE_GROUPINGS)}") from None
    rows = (
        ClaudeCodeUsage.objects.filter(day__gte=date_from, day__lte=date_to)
        .values(*columns)
        .annotate(days=Count("day", distinct=True), **{m: Sum(m) for m in MEASURES})
        .order_by("-estimated_cost", *columns)
    )
    return [
        ClaudeCodeRow(
            actor_type=row.get("actor_type", ""),
            actor=row.get("actor", ""),
            terminal_type=row.get("terminal_type", ""),
            days=row["days"],
            **{m: row[m] or 0 for m in MEASURES},
        )
        for row in rows
    ]
