"""``manage.py forecast [--json] [--horizon 90] [--by provider,model,project]``.

The JSON carries ``month_projection``: the current month as the overview shows it (the one
projection service; its forecast is fitted and stored here when no sync or nightly run has).
"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from forecasting import ForecastError
from forecasting.runs.forecasts import LEVELS, forecast_groups
from forecasting.runs.history import BY_KEYS, default_as_of
from forecasting.runs.projections import month_projection
from forecasting.runs.serialize import forecast_json
from spendapp.usage.queries import QueryError


class Command(BaseCommand):
    help = "Forecast daily spend: the total and, with --by, each group (reconciled to it)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument("--horizon", type=int, default=90, help="Days to forecast.")
        parser.add_argument(
            "--by", default="", help=f"Comma-separated groupings among {', '.join(BY_KEYS)}."
        )
        parser.add_argument("--as-of", type=date.fromisoformat, help="Last day of actuals.")

    def handle(self, *args, **options):
        by = tuple(k.strip() for k in options["by"].split(",") if k.strip())
        as_of = options["as_of"] or default_as_of()
        if as_of is None:
            raise CommandError("history: no spend data yet (sync an account first)")
        if options["horizon"] < 1:
            raise CommandError("horizon: must be a positive number of days")
        try:
            total, parts, failed = forecast_groups(by, options["horizon"], as_of=as_of)
        except (ForecastError, QueryError) as exc:
            raise CommandError(str(exc)) from None
        data = forecast_json(
            total, parts, failed, as_of=as_of, horizon=options["horizon"], levels=LEVELS, by=by
        )
        data["month_projection"] = month_projection(compute=True).as_json()
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        for series in data["series"]:
            key = "/".join(series["key"].values()) or "TOTAL"
            self.stdout.write(
                f"{key:60s} {series['model']:40s} {series['horizon_total']:>14s} "
                f"over {data['horizon']} days"
            )
        for item in data["failed"]:
            self.stdout.write(f"{item['key']}: not forecast ({item['reason']})")
        month = data["month_projection"]
        self.stdout.write(
            f"month {month['month']}: projected {month['projected_total']} "
            f"(80% {month['lower_80']}..{month['upper_80']}), actual to date "
            f"{month['actual_to_date']}"
        )
