"""``manage.py scenario [--json] (--preset NAME | --spec FILE) [--horizon-months 18]``."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from forecasting import PRESETS, ForecastError, ScenarioError, validate_spec
from forecasting.runs.scenarios import preset_specs, scenario_results
from forecasting.runs.serialize import scenarios_json
from forecasting.scenario_spec import parse_transforms


def _spec_from_file(path: str) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise CommandError(f"spec: cannot read {path} ({exc.strerror})") from None
    try:
        return validate_spec(parse_transforms(text, "spec"))
    except ScenarioError as exc:
        raise CommandError(f"spec: {exc}") from None


class Command(BaseCommand):
    help = "Price a scenario on the baseline demand forecast and compare it with the baseline."

    def add_arguments(self, parser):
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--preset", help=f"One of: {', '.join(PRESETS)}.")
        source.add_argument("--spec", help="JSON file with a scenario spec.")
        parser.add_argument("--json", action="store_true", help="Print JSON.")
        parser.add_argument("--horizon-months", type=int, default=18)
        parser.add_argument("--migration-cost", help="One-off cost, for the break-even month.")

    def handle(self, *args, **options):
        if options["spec"]:
            spec = _spec_from_file(options["spec"])  # validated before any slow work
        else:
            spec = self._preset(options["preset"])
        cost = None
        if options["migration_cost"] is not None:
            try:
                cost = Decimal(options["migration_cost"])
            except InvalidOperation:
                raise CommandError("migration-cost: must be an amount such as 2500") from None
        try:
            # A command may fit: without the day's stored baseline it computes and stores it.
            results = scenario_results([spec], options["horizon_months"], cost, compute=True)
        except ForecastError as exc:  # ScenarioError included: the message names the field
            raise CommandError(str(exc)) from None
        data = scenarios_json(results)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        result = data["scenarios"][0]
        self.stdout.write(f"{result['name']}: {result['description']}")
        for row in result["monthly"]:
            self.stdout.write(
                f"{row['month']}  baseline {row['baseline']:>12s}  scenario {row['spend']:>12s}"
                f"  ({row['lower']} .. {row['upper']})  savings {row['savings']:>12s}"
            )
        self.stdout.write(
            f"total {result['total']} vs baseline {result['baseline_total']}: "
            f"savings {result['savings']} ({result['savings_pct']}%), "
            f"break-even {result['break_even'] or '-'}"
        )

    def _preset(self, name: str) -> dict:
        if name not in PRESETS:
            known = ", ".join(PRESETS)
            raise CommandError(f"preset: unknown preset {name!r} (use one of: {known})")
        specs = preset_specs()  # validated before any slow work
        if name not in specs:
            raise CommandError(f"preset: {name!r} cannot be priced with the current price table")
        return specs[name]
