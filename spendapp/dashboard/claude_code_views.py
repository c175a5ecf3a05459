"""The explorer's Claude Code view: the Claude Code usage report per user (or API key) and
terminal over a date range. GET only; it reads stored rows."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render

from spendapp.core.inputs import parse_day
from spendapp.core.roles import dashboard_view
from spendapp.usage.calendar import data_today
from spendapp.usage.claude_code import CLAUDE_CODE_GROUPINGS, claude_code_rows

DEFAULT_DAYS = 30
BY_LABELS = {
    "actor": "User or API key",
    "terminal": "Terminal",
    "actor_terminal": "User and terminal",
}


def _form(params, today):
    errors, values = [], {}
    for name, default in (("from", today - timedelta(days=DEFAULT_DAYS - 1)), ("to", today)):
        raw = params.get(name, "").strip()
        try:
            values[name] = parse_day(raw, name) if raw else default
        except ValueError as exc:
            errors.append(str(exc))
            values[name] = default
    by = params.get("by", "actor")
    if by not in CLAUDE_CODE_GROUPINGS:
        errors.append(f"by: expected one of {', '.join(CLAUDE_CODE_GROUPINGS)}")
        by = "actor"
    if not errors and values["to"] < values["from"]:
        errors.append("to: must not be before from")
    return values["from"], values["to"], by, errors


@dashboard_view
def claude_code(request):
    date_from, date_to, by, errors = _form(request.GET, data_today())
    rows = [] if errors else claude_code_rows(date_from, date_to, by)
    context = {
        "page": "explorer",
        "errors": errors,
        "rows": rows,
        "by": by,
        "by_labels": BY_LABELS,
        "date_from": date_from,
        "date_to": date_to,
        "show_actor": by != "terminal",
        "show_terminal": by != "actor",
        "total_cost": sum((r.estimated_cost for r in rows), 0),
        "total_sessions": sum(r.sessions for r in rows),
    }
    return render(request, "dashboard/claude_code.html", context, status=400 if errors else 200)
