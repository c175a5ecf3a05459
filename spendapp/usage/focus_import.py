"""Import billed costs from a FinOps FOCUS CSV file (cloud exports, providers without an API).

Size: one module on purpose (~650 lines): validation, its error messages and the all-or-nothing
write are one contract, and its tests read best against one file.

All rows or none: every row is validated first; one bad row and nothing is written, and every
bad row is reported with its line number (``line 7: BilledCost: 'abc' is not a number``). A
file without a required column is one error naming the column.

Rules (FOCUS 1.x column names; see the README's "Provider data" section):

* Columns by FOCUS name, matched case-insensitively; extra columns are ignored, missing
  optional ones are fine. Required: ``BilledCost``, ``ChargePeriodStart``, ``ChargePeriodEnd``,
  ``BillingCurrency``, ``ProviderName``. UTF-8, with or without a byte order mark.
* Money and quantities are parsed as ``Decimal``, never float.
* Times: ISO 8601 ``YYYY-MM-DDTHH:mm:ssZ`` (FOCUS times are UTC; an explicit offset is
  converted, a time without one is taken as UTC) or a plain date ``YYYY-MM-DD``. The period
  end is exclusive and must be after the start.
* Currency: ``BillingCurrency`` must be a 3-letter ISO 4217 code equal to
  ``settings.ORG_CURRENCY``. The rollup and every dashboard add amounts up without conversion,
  so a row in another currency would be silently counted as if it were the org currency;
  convert the export first. (This also keeps every row of an account in one currency.)
* Mapping to ``CostLineItem``: ``SubAccountId`` (else ``SubAccountName``) -> ``project_id``;
  ``ResourceId`` -> ``api_key_id``; ``ChargeDescription`` -> ``line_item``, prefixed with
  ``ServiceName`` when both are present (``"Vertex AI: Gemini 2.5 Pro input"``), else
  whichever is present; ``SkuId`` ``model:token_type`` (``claude-sonnet-4:output_tokens``) ->
  ``model`` / ``token_type`` when the part after the last colon is a known token type (an opaque
  cloud SKU id maps to neither); ``ChargeCategory`` -> ``cost_type`` (lower case);
  ``ConsumedQuantity`` / ``ConsumedUnit`` -> ``quantity`` / ``quantity_unit``. Entity names
  (``SubAccountName``, ``ResourceName``) go to ``ProviderEntity``. ``EffectiveCost`` is
  validated and totalled in the result (``BilledCost`` is what is stored); ``Tags`` are
  accepted but not stored (``CostLineItem`` has no column for them).
* Rows are bucketed per UTC day of ``ChargePeriodStart`` (hourly rows of one day become one
  daily line; a multi-day charge lands on its first day). Rows identical in every dimension on
  the same day are summed into one line item, so they never collide on the natural key.
* Accounts: every row goes to the FOCUS account named by ``account_name`` (``--account``), or
  else to one FOCUS account per ``ProviderName``, created if missing. A name that belongs to
  an API-synced account is refused.
* Writing: ``ingest.write_costs`` (COPY + upsert) on endpoint ``focus.csv`` per window of
  consecutive covered days, then ``ingest.refresh_rollup``, all in one transaction. The file is
  the truth for the days it covers: re-importing it changes nothing, and a corrected export
  replaces the lines of those days (lines no longer present are deleted). Days the file does
  not cover are left alone. Each import is logged as a ``SyncRun`` with trigger ``import``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spendapp.core.inputs import FIRST_DAY, LAST_DAY, check_day
from spendapp.providers.models import PROVIDER_CHOICES, ProviderAccount, ProviderEntity
from spendapp.providers.records import CostRecord
from spendapp.usage import ingest
from spendapp.usage.models import SyncRun
from spendapp.usage.signals import announce_spend_changed

ENDPOINT = "focus.csv"
FOCUS_PROVIDER = "focus"
SYNC_TRIGGER = "import"
REQUIRED_COLUMNS = (
    "BilledCost",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingCurrency",
    "ProviderName",
)
OPTIONAL_COLUMNS = (
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "ResourceId",
    "ResourceName",
    "SkuId",
    "ChargeDescription",
    "ConsumedQuantity",
    "ConsumedUnit",
    "EffectiveCost",
    "ChargeCategory",
    "Tags",
)
# Errors kept for the report; the count of the rest is still given.
MAX_REPORTED_ERRORS = 500

# The part after the last colon of a SkuId -> CostLineItem.token_type.
SKU_TOKEN_TYPES = {
    "input": "input",
    "input_tokens": "input",
    "uncached_input": "input",
    "uncached_input_tokens": "input",
    "cached_input": "cached_input",
    "cached_input_tokens": "cached_input",
    "input_cached_tokens": "cached_input",
    "cache_read": "cached_input",
    "cache_read_input_tokens": "cached_input",
    "cache_write": "cache_write",
    "cache_write_5m": "cache_write",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
    "cache_write_1h": "cache_write_1h",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
    "output": "output",
    "output_tokens": "output",
}

_MAX_AMOUNT = Decimal(10) ** 12  # CostLineItem.amount: NUMERIC(24, 12)
_MAX_QUANTITY = Decimal(10) ** 18  # CostLineItem.quantity: NUMERIC(24, 6)
_DIMENSION_LENGTH = 200
_LINE_ITEM_LENGTH = 300
_UNIT_LENGTH = 40
_NAME_LENGTH = 100  # ProviderAccount.name
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2}| ?UTC)?",
    re.IGNORECASE,
)
_PROVIDER_LABELS = dict(PROVIDER_CHOICES)


class FocusImportError(Exception):
    """The file was rejected; nothing was imported. ``errors`` are ready to show, one a line."""

    def __init__(self, errors: list[str], total: int | None = None):
        self.errors = errors
        self.total = total if total is not None else len(errors)
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        if self.total == 1:
            return f"nothing imported: {self.errors[0]}"
        return f"nothing imported: {self.total} errors"

    @property
    def omitted(self) -> int:
        return self.total - len(self.errors)


@dataclass
class ImportResult:
    rows: int = 0  # data rows read
    line_items: int = 0  # daily CostLineItem rows they make (after summing identical rows)
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    accounts: list[str] = field(default_factory=list)
    accounts_created: list[str] = field(default_factory=list)
    days: int = 0
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    currency: str = ""
    billed_total: Decimal = Decimal(0)
    effective_total: Decimal | None = None  # sum of EffectiveCost where the file has it
    dry_run: bool = False

    @property
    def unchanged(self) -> bool:
        return not (self.inserted or self.updated or self.deleted)

    def describe(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        text = (
            f"{verb} {self.rows} rows as {self.line_items} daily line items into "
            f"{', '.join(self.accounts)}"
        )
        if self.date_from:
            text += f" ({self.date_from} to {self.date_to}, {self.days} days)"
        text += (
            f": {self.inserted} inserted, {self.updated} updated, {self.deleted} deleted; "
            f"billed {self.billed_total} {self.currency}"
        )
        if self.effective_total is not None:
            text += f", effective {self.effective_total} {self.currency}"
        return text


@dataclass
class _Line:
    """One daily line item being summed from one or more rows."""

    bucket_end: datetime
    amount: Decimal
    quantity: Decimal | None
    quantity_unit: str
    quantity_ok: bool  # every summed row had a quantity in the same unit


@dataclass
class ParsedFile:
    """A validated file: daily lines per account, ready to write."""

    rows: int = 0
    # account name -> (day, *COST_DIMENSIONS) -> line
    lines: dict[str, dict[tuple, _Line]] = field(default_factory=dict)
    # account name -> (kind, external_id) -> name
    entities: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    billed_total: Decimal = Decimal(0)
    effective_total: Decimal | None = None
    errors: list[str] = field(default_factory=list)
    error_count: int = 0

    def error(self, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(message)


# -- reading ------------------------------------------------------------------------------------


def _binary_lines(source) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray):
        yield from io.BytesIO(source)
    elif isinstance(source, str | Path):
        with open(source, "rb") as handle:
            yield from handle
    else:  # a binary file object, e.g. a Django UploadedFile (iterates by line, any newline)
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        yield from source


def _text_lines(source) -> Iterator[str]:
    """Lines decoded as UTF-8; a leading byte order mark is dropped."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    for chunk in _binary_lines(source):
        yield decoder.decode(chunk)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def _columns(header: list[str]) -> dict[str, int]:
    """FOCUS column name -> index, matching names case-insensitively."""
    wanted = {name.lower(): name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}
    found: dict[str, int] = {}
    errors = []
    for index, raw in enumerate(header):
        name = wanted.get(raw.strip().lower())
        if name is None:
            continue  # an extra column (x_ custom columns, the rest of FOCUS): ignored
        if name in found:
            errors.append(
                f"line 1: column {name} appears twice (columns {found[name] + 1} and {index + 1})"
            )
        else:
            found[name] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in found]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        errors.insert(0, f"missing required column{plural} {', '.join(missing)} in the header row")
    if errors:
        raise FocusImportError(errors)
    return found


# -- values -------------------------------------------------------------------------------------


class _BadValue(ValueError):
    pass


def _shown(text: str) -> str:
    """A cell value quoted for an error message, cut short if long."""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _decimal(text: str, limit: Decimal) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _BadValue(f"{_shown(text)} is not a number") from None
    if not value.is_finite():
        raise _BadValue(f"{_shown(text)} is not a number")
    if abs(value) >= limit:
        raise _BadValue(f"{_shown(text)} is too large")
    return value


def _moment(text: str) -> datetime:
    """An ISO 8601 UTC date/time or a plain date -> an aware UTC datetime."""
    expected = "expected YYYY-MM-DDTHH:mm:ssZ or YYYY-MM-DD"
    if _DATE_ONLY.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _BadValue(f"{_shown(text)} is not a valid date ({expected})") from None
        return _in_calendar(text, datetime(day.year, day.month, day.day, tzinfo=UTC))
    if not _DATE_TIME.fullmatch(text):
        raise _BadValue(f"{_shown(text)} is not a date/time ({expected})")
    cleaned = re.sub(r" ?UTC$", "+00:00", text, flags=re.IGNORECASE)
    cleaned = re.sub(r"[Zz]$", "+00:00", cleaned)
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise _BadValue(f"{_shown(text)} is not a valid date/time ({expected})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # FOCUS times are UTC
    return _in_calendar(text, moment.astimezone(UTC))


def _in_calendar(text: str, moment: datetime) -> datetime:
    try:
        check_day(moment.date(), "date")
    except ValueError:
        raise _BadValue(f"{_shown(text)} is outside {FIRST_DAY}..{LAST_DAY}") from None
    return moment


def _sku(text: str) -> tuple[str, str]:
    """``claude-sonnet-4:output_tokens`` -> (model, token type); anything else -> ("", "")."""
    model, sep, label = text.rpartition(":")
    token_type = SKU_TOKEN_TYPES.get(label.strip().lower(), "")
    if not sep or not token_type or not model.strip():
        return "", ""
    return model.strip(), token_type


def _day_start(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


# -- validation ---------------------------------------------------------------------------------


class _Row:
    """Reads the cells of one data row, collecting every error of the row."""

    def __init__(self, cells: list[str], columns: dict[str, int], line: int, parsed: ParsedFile):
        self.cells, self.columns, self.line, self.parsed = cells, columns, line, parsed
        self.ok = True

    def error(self, column: str, message: str) -> None:
        self.ok = False
        self.parsed.error(f"line {self.line}: {column}: {message}")

    def text(self, column: str, max_length: int | None = None) -> str:
        index = self.columns.get(column)
        value = self.cells[index].strip() if index is not None else ""
        if "\x00" in value:  # PostgreSQL text cannot hold NUL
            self.error(column, "must not contain a NUL byte")
            return ""
        if self.ok_length(column, value, max_length):
            return value
        return ""

    def ok_length(self, column: str, value: str, max_length: int | None) -> bool:
        if max_length is not None and len(value) > max_length:
            self.error(column, f"longer than {max_length} characters")
            return False
        return True

    def required(self, column: str, max_length: int | None = None) -> str:
        if not self.cells[self.columns[column]].strip():
            self.error(column, "a value is required")
            return ""
        return self.text(column, max_length)

    def decimal(self, column: str, limit: Decimal, *, required: bool = False) -> Decimal | None:
        text = self.required(column) if required else self.text(column)
        if not text:
            return None
        try:
            return _decimal(text, limit)
        except _BadValue as exc:
            self.error(column, str(exc))
            return None

    def moment(self, column: str) -> datetime | None:
        text = self.required(column)
        if not text:
            return None
        try:
            return _moment(text)
        except _BadValue as exc:
            self.error(column, str(exc))
            return None


def _validate_row(row: _Row, account_name: str | None, org_currency: str) -> None:
    parsed = row.parsed
    billed = row.decimal("BilledCost", _MAX_AMOUNT, required=True)
    start = row.moment("ChargePeriodStart")
    end = row.moment("ChargePeriodEnd")
    if start is not None and end is not None and end <= start:
        row.error(
            "ChargePeriodEnd",
            f"{end:%Y-%m-%dT%H:%M:%SZ} is not after ChargePeriodStart {start:%Y-%m-%dT%H:%M:%SZ}",
        )
    currency = row.required("BillingCurrency").upper()
    if currency:
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
            row.error("BillingCurrency", f"{_shown(currency)} is not a 3-letter ISO 4217 code")
        elif currency != org_currency:
            row.error(
                "BillingCurrency",
                f"{currency} differs from the organisation currency {org_currency} "
                f"(ORG_CURRENCY); amounts are added up without conversion, so convert the "
                f"export first",
            )
    provider_name = row.required("ProviderName", _NAME_LENGTH if not account_name else None)
    effective = row.decimal("EffectiveCost", _MAX_AMOUNT)
    quantity = row.decimal("ConsumedQuantity", _MAX_QUANTITY)
    unit = row.text("ConsumedUnit", _UNIT_LENGTH)
    sub_id = row.text("SubAccountId", _DIMENSION_LENGTH)
    sub_name = row.text("SubAccountName", _LINE_ITEM_LENGTH)
    resource_id = row.text("ResourceId", _DIMENSION_LENGTH)
    resource_name = row.text("ResourceName", _LINE_ITEM_LENGTH)
    description = row.text("ChargeDescription")
    service = row.text("ServiceName")
    line_item = f"{service}: {description}" if service and description else service or description
    row.ok_length("ChargeDescription", line_item, _LINE_ITEM_LENGTH)
    model, token_type = _sku(row.text("SkuId"))
    row.ok_length("SkuId", model, _DIMENSION_LENGTH)
    cost_type = row.text("ChargeCategory", _DIMENSION_LENGTH).lower()
    project_id = sub_id or sub_name
    if not sub_id:
        row.ok_length("SubAccountName", sub_name, _DIMENSION_LENGTH)
    if not row.ok or billed is None or start is None or end is None:
        return
    account = account_name or provider_name
    day = start.date()
    bucket_end = max(_day_start(start) + timedelta(days=1), end)
    key = (day, project_id, resource_id, line_item, model, token_type, "", "", cost_type)
    lines = parsed.lines.setdefault(account, {})
    line = lines.get(key)
    if line is None:
        lines[key] = _Line(bucket_end, billed, quantity, unit, quantity_ok=quantity is not None)
    else:
        line.bucket_end = max(line.bucket_end, bucket_end)
        line.amount += billed
        if line.quantity_ok and quantity is not None and unit == line.quantity_unit:
            line.quantity += quantity
        else:
            line.quantity_ok = False  # a row without a quantity, or in another unit
    entities = parsed.entities.setdefault(account, {})
    if sub_id and sub_name:
        entities["project", sub_id] = sub_name
    if resource_id and resource_name:
        entities["api_key", resource_id] = resource_name
    parsed.billed_total += billed
    if effective is not None:
        parsed.effective_total = (parsed.effective_total or Decimal(0)) + effective


def _parse(source, account_name: str | None) -> ParsedFile:
    parsed = ParsedFile()
    org_currency = settings.ORG_CURRENCY
    reader = csv.reader(_text_lines(source), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise FocusImportError(["the file is empty: expected a header row of FOCUS columns"])
        columns = _columns(header)
        line = reader.line_num + 1
        for cells in reader:
            first_line, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            parsed.rows += 1
            if len(cells) != len(header):
                parsed.error(
                    f"line {first_line}: has {len(cells)} fields but the header has "
                    f"{len(header)} (a comma or quote out of place?)"
                )
                continue
            _validate_row(_Row(cells, columns, first_line, parsed), account_name, org_currency)
    except UnicodeDecodeError as exc:
        raise FocusImportError(
            [f"the file is not UTF-8 text (byte {exc.start} of a line): save it as UTF-8"]
        ) from None
    except csv.Error as exc:
        raise FocusImportError([f"line {reader.line_num}: not valid CSV ({exc})"]) from None
    if parsed.rows == 0 and not parsed.error_count:
        raise FocusImportError(["the file has a header row but no data rows"])
    return parsed


def _check_accounts(names: Iterable[str]) -> list[str]:
    errors = []
    for account in ProviderAccount.objects.filter(name__in=list(names)).exclude(
        provider=FOCUS_PROVIDER
    ):
        label = _PROVIDER_LABELS.get(account.provider, account.provider)
        errors.append(
            f"account {account.name!r} is a {label} account synced from its API; FOCUS costs "
            f"go to a FOCUS account of their own: choose another account name"
        )
    return errors


def validate_focus_csv(source, account_name: str | None = None) -> ParsedFile:
    """Read and check the whole file; raise ``FocusImportError`` listing every problem."""
    if account_name is not None:
        account_name = account_name.strip() or None
    if account_name and len(account_name) > _NAME_LENGTH:
        raise FocusImportError([f"account name: longer than {_NAME_LENGTH} characters"])
    parsed = _parse(source, account_name)
    if parsed.error_count:
        raise FocusImportError(parsed.errors, parsed.error_count)
    account_errors = _check_accounts(parsed.lines)
    if account_errors:
        raise FocusImportError(account_errors)
    return parsed


# -- writing ------------------------------------------------------------------------------------


def _day_runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """Sorted days -> [(first, last)] runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _account(name: str) -> tuple[ProviderAccount, bool]:
    account, created = ProviderAccount.objects.get_or_create(
        name=name, defaults={"provider": FOCUS_PROVIDER, "encrypted_key": ""}
    )
    # One import per account at a time; a sync never touches FOCUS accounts.
    account = ProviderAccount.objects.select_for_update().get(pk=account.pk)
    if account.provider != FOCUS_PROVIDER:  # created concurrently as another kind
        raise FocusImportError(_check_accounts([name]))
    return account, created


def _save_entities(account, names: dict[tuple[str, str], str]) -> None:
    if not names:
        return
    existing = {
        (e.kind, e.external_id): e
        for e in ProviderEntity.objects.filter(
            account=account, external_id__in=[key[1] for key in names]
        )
    }
    for (kind, external_id), name in names.items():
        entity = existing.get((kind, external_id))
        if entity is None:
            ProviderEntity.objects.create(
                account=account, kind=kind, external_id=external_id, name=name
            )
        elif entity.name != name:
            entity.name = name
            entity.save(update_fields=["name", "updated_at"])


def _write_account(account, lines: dict[tuple, _Line], currency: str) -> ingest.WriteResult:
    by_day: dict[date, list[CostRecord]] = {}
    for (day, *dims), line in lines.items():
        project_id, api_key_id, line_item, model, token_type, tier, window, cost_type = dims
        by_day.setdefault(day, []).append(
            CostRecord(
                endpoint=ENDPOINT,
                bucket_start=_midnight(day),
                bucket_end=line.bucket_end,
                amount=line.amount,
                currency=currency,
                project_id=project_id,
                api_key_id=api_key_id,
                line_item=line_item,
                model=model,
                token_type=token_type,
                service_tier=tier,
                context_window=window,
                cost_type=cost_type,
                quantity=line.quantity if line.quantity_ok else None,
                quantity_unit=line.quantity_unit if line.quantity_ok else "",
            )
        )
    days = sorted(by_day)
    total = ingest.WriteResult()
    for first, last in _day_runs(days):
        start, end = _midnight(first), _midnight(last + timedelta(days=1))
        records = [r for day in days if first <= day <= last for r in by_day[day]]
        total += ingest.write_costs(account, ENDPOINT, start, end, records)
    ingest.refresh_rollup(account, _midnight(days[0]), _midnight(days[-1] + timedelta(days=1)))
    # As a sync does: allocation follows in this transaction, budgets evaluate on commit.
    span = (days[-1] - days[0]).days + 1
    announce_spend_changed(__name__, account.pk, (days[0] + timedelta(d) for d in range(span)))
    return total


def import_focus_csv(
    source: bytes | str | Path | IO[bytes],
    account_name: str | None = None,
    *,
    dry_run: bool = False,
) -> ImportResult:
    """Validate and import a FOCUS CSV file, all rows or none.

    ``source`` is the file's bytes, a path, or a binary file object (an upload). Raises
    ``FocusImportError`` (nothing written) when any row or the file is bad. With ``dry_run``
    everything is validated and written, then rolled back: the counts say what would change.
    """
    parsed = validate_focus_csv(source, account_name)
    currency = settings.ORG_CURRENCY
    result = ImportResult(
        rows=parsed.rows,
        currency=currency,
        billed_total=parsed.billed_total,
        effective_total=parsed.effective_total,
        dry_run=dry_run,
    )
    all_days = {key[0] for lines in parsed.lines.values() for key in lines}
    result.days = len(all_days)
    result.date_from, result.date_to = min(all_days), max(all_days)
    with transaction.atomic():
        for name in sorted(parsed.lines):
            started = timezone.now()
            account, created = _account(name)
            lines = parsed.lines[name]
            written = _write_account(account, lines, currency)
            _save_entities(account, parsed.entities.get(name, {}))
            result.accounts.append(name)
            if created:
                result.accounts_created.append(name)
            result.line_items += len(lines)
            result.inserted += written.inserted
            result.updated += written.updated
            result.deleted += written.deleted
            days = sorted({key[0] for key in lines})
            finished = timezone.now()
            SyncRun.objects.create(
                account=account,
                started_at=started,
                finished_at=finished,
                outcome=SyncRun.Outcome.SUCCESS,
                windows=len(_day_runs(days)),
                rows_inserted=written.inserted,
                rows_updated=written.updated,
                rows_deleted=written.deleted,
                range_start=_midnight(days[0]),
                range_end=_midnight(days[-1] + timedelta(days=1)),
                trigger=SYNC_TRIGGER,
            )
            account.status = ProviderAccount.Status.OK
            account.status_message = ""
            account.last_sync_at = account.last_success_at = finished
            account.save(
                update_fields=["status", "status_message", "last_sync_at", "last_success_at"]
            )
        if dry_run:
            transaction.set_rollback(True)
    return result
