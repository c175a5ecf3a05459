"""`manage.py spend --json`: totals from the rollup, the same query the dashboard runs.

The explorer's CSV export and the API's ``GET /api/v1/spend`` print the same rows for the
same options, e.g.
``spend --from 2026-09-01 --to 2026-09-30 --by model,project --filter provider=openai``.

``--by team`` / ``--by cost_centre`` read the allocated rollup: team and cost-centre names,
null for unallocated spend (``--filter team=`` selects it; ``--filter team=Platform`` selects
the team and the teams below it). ``--by tier`` uses the model tiers of the admin (price
bands and overrides).
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from spendapp.usage.queries import (
    GRANULARITIES,
    GROUPINGS,
    QueryError,
    query_from_options,
    spend_rows,
)


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
        try:
            query = query_from_options(
                timezone.now().date(),
                options["date_from"],
                options["date_to"],
                options["by"],
                options["granularity"],
                options["filters"],
            )
            rows = spend_rows(query)  # may refuse a filter value, e.g. an unknown team
        except QueryError as exc:
            # Options are named as on the command line: "--from: expected YYYY-MM-DD ...".
            raise CommandError(f"--{exc}") from None
        self.stdout.write(json.dumps(rows, indent=1))
