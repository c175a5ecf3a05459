"""`manage.py spend --json`: totals from the rollup, the same query the dashboard runs.

The explorer's CSV export prints the same rows for the same options, e.g.
``spend --from 2026-09-01 --to 2026-09-30 --by model,project --filter provider=openai``.

``--by team`` / ``--by cost_centre`` read the allocated rollup: team and cost-centre names,
null for unallocated spend (``--filter team=`` selects it; ``--filter team=Platform`` selects
the team and the teams below it). ``--by tier`` uses the model tiers of the admin (price
bands and overrides).
"""

import json
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from spendapp.usage.queries import GRANULARITIES, GROUPINGS, QueryError, SpendQuery, spend_rows


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name}: expected YYYY-MM-DD, got {value!r}") from None


def parse_filters(items: list[str]) -> dict[str, tuple[str, ...]]:
    """``["provider=openai", "model=a,b", "model=c"]`` -> ``{"provider": ("openai",),
    "model": ("a", "b", "c")}``; an empty value (``user=``) matches rows without that field."""
    filters: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--filter: expected FIELD=VALUE[,VALUE...], got {item!r}")
        parts = [part.strip() for part in values.split(",")] if values else [""]
        filters.setdefault(key.strip(), []).extend(parts)
    return {key: tuple(dict.fromkeys(values)) for key, values in filters.items()}


class Command(BaseCommand):
    help = "Print spend, tokens and requests per period and grouping as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON output (the default)")
        parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="last day (inclusive), YYYY-MM-DD")
        parser.add_argument(
            "--by", default="", help=f"comma-separated groupings: {', '.join(GROUPINGS)}"
        )
        parser.add_argument("--granularity", default="day", choices=GRANULARITIES)
        parser.add_argument(
            "--filter",
            dest="filters",
            action="append",
            default=[],
            metavar="FIELD=VALUE[,VALUE...]",
            help=f"keep only rows whose FIELD ({', '.join(GROUPINGS)}) is one of the values; "
            "an empty value matches rows without the field (team=: unallocated); repeatable",
        )

    def handle(self, *args, **options):
        today = timezone.now().date()
        date_to = _date(options["date_to"], "to") if options["date_to"] else today
        date_from = (
            _date(options["date_from"], "from")
            if options["date_from"]
            else date_to - timedelta(days=29)
        )
        by = tuple(part.strip() for part in options["by"].split(",") if part.strip())
        filters = parse_filters(options["filters"])
        try:
            query = SpendQuery(date_from, date_to, by, options["granularity"], filters)
            rows = spend_rows(query)  # may refuse a filter value, e.g. an unknown team
        except QueryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(rows, indent=1))
