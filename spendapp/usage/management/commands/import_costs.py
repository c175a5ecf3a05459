"""`manage.py import_costs FILE [--account NAME] [--dry-run]`: import a FOCUS CSV file.

All rows or none: on any bad row nothing is imported, every problem is printed to stderr with
its line number, and the command exits with status 1.
"""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from spendapp.usage.focus_import import FocusImportError, import_focus_csv


class Command(BaseCommand):
    help = (
        "Import billed costs from a FinOps FOCUS CSV file into a FOCUS account (all rows or "
        "none; re-importing the same file changes nothing)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the FOCUS CSV file, or - for standard input")
        parser.add_argument(
            "--account",
            help="FOCUS account to import into (created if missing); default: one account "
            "per ProviderName in the file",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="validate and show what would change, then roll back",
        )

    def handle(self, *args, **options):
        name = options["file"]
        if name == "-":
            source = sys.stdin.buffer
        else:
            path = Path(name)
            if not path.is_file():
                raise CommandError(f"{name}: no such file")
            source = path
        try:
            result = import_focus_csv(source, options["account"], dry_run=options["dry_run"])
        except FocusImportError as exc:
            for error in exc.errors:
                self.stderr.write(error)
            if exc.omitted:
                self.stderr.write(f"... and {exc.omitted} more errors")
            raise CommandError(f"{name}: {exc.summary}") from None
        self.stdout.write(self.style.SUCCESS(f"{name}: {result.describe()}"))
        if result.accounts_created:
            self.stdout.write(f"created FOCUS account(s): {', '.join(result.accounts_created)}")
