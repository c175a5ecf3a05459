"""One sync of one provider account: windows, watermarks, outcomes, the SyncRun record.

* The first sync backfills ``backfill_days``; later ones start two days before the watermark,
  because providers revise recent buckets. Windows are fetched whole (every page), then
  written in one transaction with the rollup, then the watermark moves.
* A malformed page fails its window: nothing of it is written, the watermark stays, and the
  endpoint stops there (later windows would leave a hole behind the watermark).
* A rejected key (401/403) marks the account "needs attention" and stops; scheduled syncs
  skip it until the key is changed.
* One sync per account at a time: a PostgreSQL advisory lock, released by PostgreSQL itself
  if the worker dies.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import connection, transaction
from django.db.models.functions import Greatest
from django.utils import timezone

from spendapp.providers.errors import ProviderAuthError, ProviderError
from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.providers.service import open_connector
from spendapp.usage import credits, ingest
from spendapp.usage.models import PriceOverride, SyncRun, SyncWatermark
from spendapp.usage.pricing import PriceBook
from spendapp.usage.signals import announce_spend_changed

log = logging.getLogger(__name__)

REVISION_OVERLAP = timedelta(days=2)
_LOCK_NAMESPACE = 7301  # first half of the advisory lock key: "provider account sync"

Progress = Callable[[str, int, int], None]


@dataclass
class Window:
    start: datetime
    end: datetime


def floor_day(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def range_end(now: datetime, bucket_width: str) -> datetime:
    """End of the bucket that contains ``now`` (the open bucket is fetched too)."""
    if bucket_width == "1d":
        return floor_day(now) + timedelta(days=1)
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


FIRST_SYNC_STALE = timedelta(hours=2)  # a "running" first sync older than this died


def first_syncs_running(now: datetime | None = None) -> list[str]:
    """Names of accounts whose first sync is under way (never synced successfully, a run
    started lately still running): until it ends their history is partial, so nothing should
    be projected or alerted from it. One query."""
    since = (now or timezone.now()) - FIRST_SYNC_STALE
    return sorted(
        SyncRun.objects.filter(
            outcome=SyncRun.Outcome.RUNNING,
            started_at__gte=since,
            account__last_success_at__isnull=True,
        )
        .values_list("account__name", flat=True)
        .distinct()
    )


def days_of(window: Window) -> list[date]:
    """The UTC days [start, end) touches (the days whose rollup rows a window rewrites)."""
    first = window.start.astimezone(UTC).date()
    last = (window.end - timedelta(microseconds=1)).astimezone(UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def windows(start: datetime, end: datetime, size: timedelta) -> Iterator[Window]:
    cursor = start
    while cursor < end:
        yield Window(cursor, min(cursor + size, end))
        cursor += size


def sync_start(account, endpoint: str, now: datetime, since: date | None, full: bool):
    if since is not None:
        return datetime(since.year, since.month, since.day, tzinfo=UTC)
    backfill = floor_day(now - timedelta(days=account.backfill_days))
    if full:
        return backfill
    mark = SyncWatermark.objects.filter(account=account, endpoint=endpoint).first()
    if mark is None:
        return backfill
    return max(backfill, floor_day(mark.synced_until - REVISION_OVERLAP))


class _AccountLock:
    def __init__(self, account_id: int):
        self.key = (_LOCK_NAMESPACE, account_id)
        self.held = False

    def __enter__(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", self.key)
            self.held = cursor.fetchone()[0]
        return self.held

    def __exit__(self, *exc) -> None:
        if self.held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)


def sync_account(
    account_id: int,
    *,
    since: date | None = None,
    full: bool = False,
    trigger: str = "schedule",
    progress: Progress | None = None,
    now: datetime | None = None,
) -> SyncRun | None:
    """Sync one account now. Returns the SyncRun, or None if the account is gone."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return None
    started = timezone.now()
    with _AccountLock(account.pk) as got_lock:
        if not got_lock:
            return SyncRun.objects.create(
                account=account,
                started_at=started,
                finished_at=timezone.now(),
                outcome=SyncRun.Outcome.SKIPPED,
                trigger=trigger,
                error="another sync of this account is running",
            )
        # Holding the lock, any run still marked running died with its worker.
        SyncRun.objects.filter(account=account, outcome=SyncRun.Outcome.RUNNING).update(
            outcome=SyncRun.Outcome.FAILED,
            finished_at=started,
            error="interrupted: the worker stopped before the sync finished",
        )
        run = SyncRun.objects.create(account=account, started_at=started, trigger=trigger)
        _SyncJob(account, run, since, full, progress, now or started).execute()
        return run


class _SyncJob:
    def __init__(self, account, run, since, full, progress, now):
        self.account, self.run, self.since, self.full = account, run, since, full
        self.progress = progress or (lambda *args: None)
        self.now = now
        self.book = PriceBook(PriceOverride.objects.filter(provider=account.provider))
        self.errors: list[str] = []
        self.committed = 0

    def execute(self) -> None:
        account = self.account
        try:
            with open_connector(account) as conn:
                self._prepare(conn)
                self._refresh_names(conn)
                for spec in conn.endpoints():
                    self._sync_endpoint(conn, spec)
                self._record_balances(conn)
        except ProviderAuthError as exc:
            self._finish(SyncRun.Outcome.FAILED, f"credentials rejected: {exc}", auth=True)
            return
        except Exception as exc:  # recorded on the run, then re-raised for the task's log
            self._finish(SyncRun.Outcome.FAILED, f"{type(exc).__name__}: {exc}")
            raise
        if not self.errors:
            self._finish(SyncRun.Outcome.SUCCESS, "")
        else:
            outcome = SyncRun.Outcome.PARTIAL if self.committed else SyncRun.Outcome.FAILED
            self._finish(outcome, "\n".join(self.errors))

    def _prepare(self, conn) -> None:
        """The connector's once-per-sync preparation (Anthropic: may the key read the analytics
        API?); its warnings are kept on the run, which can still succeed."""
        warnings = conn.prepare()
        if warnings:
            self.run.warnings = "\n".join(warnings)
            self.run.save(update_fields=["warnings"])

    def _refresh_names(self, conn) -> None:
        """Display names are one step: if their endpoint fails (other than a rejected key),
        the run records it and the usage and cost windows are synced all the same."""
        try:
            names = conn.names()
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            self.errors.append(f"names (projects, keys, users): {exc}")
            return
        entities = [
            ProviderEntity(
                account=self.account,
                kind=e.kind,
                external_id=e.id,
                name=e.name,
                parent_id=e.parent_id,
            )
            for e in names
        ]
        ProviderEntity.objects.bulk_create(
            entities,
            update_conflicts=True,
            unique_fields=["account", "kind", "external_id"],
            update_fields=["name", "parent_id", "updated_at"],
        )

    def _record_balances(self, conn) -> None:
        """Prepaid balances (where the provider reports one) are one step too: a failure is
        recorded on the run and the usage already synced stays."""
        try:
            balances = conn.balances()
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            self.errors.append(f"credit balance: {exc}")
            return
        if balances:
            credits.store_balances(self.account, balances)
            self.committed += 1

    def _sync_endpoint(self, conn, spec) -> None:
        start = sync_start(self.account, spec.name, self.now, self.since, self.full)
        if spec.history_days is not None:  # the API answers nothing older: never ask
            start = max(start, floor_day(self.now) - timedelta(days=spec.history_days))
        end = range_end(self.now, spec.bucket_width)
        todo = list(windows(start, end, spec.max_window))
        self._widen_range(start, end)
        for index, window in enumerate(todo, start=1):
            self.progress(spec.name, index, len(todo))
            if not self._sync_window(conn, spec, window):
                return

    def _sync_window(self, conn, spec, window: Window) -> bool:
        run = self.run
        run.windows += 1
        try:
            pages = list(conn.fetch_pages(spec, window.start, window.end))
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            run.windows_failed += 1
            self.errors.append(
                f"{spec.name} {window.start:%Y-%m-%d %H:%M}..{window.end:%Y-%m-%d %H:%M}: {exc}"
            )
            run.save()
            return False
        records = [record for page in pages for record in page.records]
        with transaction.atomic():
            if spec.kind == "activity":  # Claude Code: reported beside spend, never in it
                result = ingest.write_claude_code(self.account, window.start, window.end, records)
                _advance_watermark(self.account, spec.name, min(window.end, self.now))
                self._count(len(pages), result)
                return True
            if spec.kind == "usage":
                result = ingest.write_usage(
                    self.account, spec.name, window.start, window.end, records, self.book
                )
            else:
                result = ingest.write_costs(
                    self.account, spec.name, window.start, window.end, records
                )
            if result.changed:  # an unchanged re-read leaves the rollups as they are
                ingest.refresh_rollup(self.account, window.start, window.end)
                # Allocation and calibration follow in this transaction; budgets and the
                # day's forecast on commit (`spendapp.usage.signals`).
                announce_spend_changed(__name__, self.account.pk, days_of(window))
            _advance_watermark(self.account, spec.name, min(window.end, self.now))
            self._count(len(pages), result)
        return True

    def _count(self, pages: int, result) -> None:
        run = self.run
        run.pages += pages
        run.rows_inserted += result.inserted
        run.rows_updated += result.updated
        run.rows_deleted += result.deleted
        run.save()
        self.committed += 1

    def _widen_range(self, start: datetime, end: datetime) -> None:
        run = self.run
        run.range_start = min(filter(None, [run.range_start, start]))
        run.range_end = max(filter(None, [run.range_end, end]))

    def _finish(self, outcome: str, error: str, *, auth: bool = False) -> None:
        finished = timezone.now()
        run, account = self.run, self.account
        run.outcome, run.error, run.finished_at = outcome, error, finished
        run.save()
        account.last_sync_at = finished
        if auth:
            account.status = ProviderAccount.Status.NEEDS_ATTENTION
            account.status_message = error
        elif outcome == SyncRun.Outcome.SUCCESS:
            account.status = ProviderAccount.Status.OK
            account.status_message = ""
            account.last_success_at = finished
        else:
            account.status = ProviderAccount.Status.FAILING
            account.status_message = error.splitlines()[0] if error else ""
        account.save(update_fields=["status", "status_message", "last_sync_at", "last_success_at"])
        log.info(
            "sync of %s: %s (%s windows, %s rows inserted, %s updated)",
            account,
            outcome,
            run.windows,
            run.rows_inserted,
            run.rows_updated,
        )


def _advance_watermark(account, endpoint: str, until: datetime) -> None:
    """Move forward only: a re-sync of an older range never moves the watermark back."""
    mark, created = SyncWatermark.objects.get_or_create(
        account=account, endpoint=endpoint, defaults={"synced_until": until}
    )
    if not created:
        SyncWatermark.objects.filter(pk=mark.pk).update(
            synced_until=Greatest("synced_until", until)
        )
