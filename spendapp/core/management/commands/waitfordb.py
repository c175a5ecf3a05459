"""Wait until the database answers: the compose file's `migrate` runs this first."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection


class Command(BaseCommand):
    help = "Wait until the database accepts connections (retrying every 2 s), then exit 0."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=300, help="seconds (default 300)")

    def handle(self, *args, timeout: float, **options):
        deadline = time.monotonic() + timeout
        while True:
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except OperationalError as exc:
                connection.close()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                if time.monotonic() >= deadline:
                    raise CommandError(
                        f"the database did not answer in {timeout:.0f} s: {reason}"
                    ) from None
                self.stderr.write(f"Waiting for the database: {reason}")
                time.sleep(2)
            else:
                self.stdout.write("The database answers.")
                return
