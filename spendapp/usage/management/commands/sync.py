"""`manage.py sync`: run a sync now, in the foreground, with progress and a summary."""

from datetime import date

from django.core.management.base import BaseCommand, CommandError

from spendapp.providers.models import ProviderAccount
from spendapp.usage.sync import sync_account


class Command(BaseCommand):
    help = "Sync provider accounts now (all enabled ones, or --account NAME)."

    def add_arguments(self, parser):
        parser.add_argument("--account", help="account name (default: every enabled account)")
        parser.add_argument("--since", help="re-read from this day, YYYY-MM-DD")
        parser.add_argument("--full", action="store_true", help="re-read the whole backfill period")

    def handle(self, *args, **options):
        since = None
        if options["since"]:
            try:
                since = date.fromisoformat(options["since"])
            except ValueError:
                raise CommandError(
                    f"--since: expected YYYY-MM-DD, got {options['since']!r}"
                ) from None
        accounts = ProviderAccount.objects.filter(enabled=True)
        if options["account"]:
            accounts = ProviderAccount.objects.filter(name=options["account"])
            if not accounts:
                raise CommandError(f"--account: no provider account named {options['account']!r}")
        failed = False
        for account in accounts:
            self.stdout.write(f"{account.name} ({account.provider})")
            run = sync_account(
                account.pk,
                since=since,
                full=options["full"],
                trigger="command",
                progress=self._progress,
            )
            self.stdout.write("")
            self.stdout.write(
                f"  {run.outcome}: {run.windows} windows, {run.pages} pages, "
                f"{run.rows_inserted} inserted, {run.rows_updated} updated, "
                f"{run.rows_deleted} removed in {run.duration.total_seconds():.1f} s"
            )
            if run.error:
                self.stdout.write(self.style.ERROR("  " + run.error.replace("\n", "\n  ")))
            failed = failed or run.outcome not in {"success"}
        if failed:
            raise CommandError("some syncs did not succeed (see above)")

    def _progress(self, endpoint: str, index: int, total: int) -> None:
        width = 30
        done = int(width * index / total) if total else width
        bar = "#" * done + "." * (width - done)
        self.stdout.write(f"\r  {endpoint:<28} [{bar}] {index}/{total}", ending="")
        self.stdout.flush()
