"""`manage.py spend --json`: totals from the rollup, the same query the dashboard runs."""

import json
from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from spendapp.usage.queries import GROUPINGS, QueryError, SpendQuery, spend_rows


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--{name}: expected YYYY-MM-DD, got {value!r}") from None


class Command(BaseCommand):
    help = "Print spend, tokens and requests per day (or month) and grouping as JSON."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON output (the default)")
        parser.add_argument("--from", dest="date_from", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", help="last day (inclusive), YYYY-MM-DD")
        parser.add_argument(
            "--by", default="", help=f"comma-separated groupings: {', '.join(GROUPINGS)}"
        )
        parser.add_argument("--granularity", default="day", choices=["day", "month"])

    def handle(self, *args, **options):
        today = timezone.now().date()
        date_to = _date(options["date_to"], "to") if options["date_to"] else today
        date_from = (
            _date(options["date_from"], "from")
            if options["date_from"]
            else date_to - timedelta(days=29)
        )
        by = tuple(part.strip() for part in options["by"].split(",") if part.strip())
        try:
            query = SpendQuery(date_from, date_to, by, options["granularity"])
        except QueryError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(json.dumps(spend_rows(query), indent=1))
