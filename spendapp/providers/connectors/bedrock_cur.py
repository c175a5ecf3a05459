"""Reading AWS CUR 2.0 line items (gzip CSV or Parquet) into neutral Bedrock line items.

Kept apart from the connector (``bedrock.py``) so the file format can be tested without S3.
Columns are the CUR 2.0 table's (AWS Data Exports, "Cost and Usage Report (CUR) 2.0" table
dictionary): every name is snake case; ``product`` and ``resource_tags`` are map columns (a JSON
object in a CSV file, a map in a Parquet file).

Bedrock token usage types (AWS, "Understanding your Amazon Bedrock Cost and Usage Report
data"): ``*-input-tokens``, ``*-output-tokens``, ``*-cache-read-input-token-count`` and
``*-cache-write-input-token-count`` (and the ``*-mantle-input-tokens-*`` /
``*-mantle-output-tokens-*`` forms). The service tier is part of the usage type.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from spendapp.providers.errors import MalformedResponse

REQUIRED_COLUMNS = (
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_line_item_type",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_currency_code",
    "line_item_usage_account_id",
)
# Line item types whose usage amount is consumption (credits, tax, refunds carry money only).
USAGE_LINE_TYPES = {"Usage", "DiscountedUsage", "SavingsPlanCoveredUsage"}
BEDROCK_PRODUCT_CODES = {"AmazonBedrock", "AmazonBedrockService"}

# Usage type suffix -> our token type (longest patterns first: "cache-read-input" before "input").
_TOKEN_PATTERNS = (
    (re.compile(r"-cache-read-input-token-count$"), "cached_input"),
    (re.compile(r"-cache-write-input-token-count$"), "cache_write"),
    (re.compile(r"-mantle-input-tokens(-.*)?$"), "input"),
    (re.compile(r"-mantle-output-tokens(-.*)?$"), "output"),
    (re.compile(r"-input-tokens$"), "input"),
    (re.compile(r"-output-tokens$"), "output"),
)
_TIERS = ("priority", "flex", "batch", "reserved")
_REGION_PREFIX = re.compile(r"^[A-Z]{2,4}\d?-")
_UNIT = re.compile(r"^\s*(\d+)?\s*([KM])?\s*tokens?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LineItem:
    """One Bedrock line item, normalised."""

    start: datetime
    end: datetime
    line_item_type: str
    usage_type: str
    model: str
    account_id: str
    project_id: str
    principal: str
    service_tier: str
    token_type: str  # input / cached_input / cache_write / output / "" (not tokens)
    tokens: int
    cost: Decimal
    currency: str


def token_type_of(usage_type: str) -> tuple[str, str]:
    """``(token type, usage type without it)`` of a Bedrock usage type; ``""`` if not tokens."""
    for pattern, kind in _TOKEN_PATTERNS:
        match = pattern.search(usage_type)
        if match:
            return kind, usage_type[: match.start()]
    return "", usage_type


def tier_of(stem: str) -> tuple[str, str]:
    """Service tier written into a usage type (``...-flex``), and the stem without it."""
    parts = stem.split("-")
    if len(parts) > 1 and parts[-1].lower() in _TIERS:
        return parts[-1].lower(), "-".join(parts[:-1])
    return "", stem


def model_of(resource_id: str, stem: str) -> str:
    """The model id from the resource ARN (``.../foundation-model/<id>``, an inference profile)
    when the export includes resource ids, else the model part of the usage type."""
    for marker in ("foundation-model/", "inference-profile/", "provisioned-model/"):
        if marker in resource_id:
            return resource_id.split(marker, 1)[1]
    return _REGION_PREFIX.sub("", stem)


def tokens_of(amount: Decimal, unit: str, where: str) -> int:
    """Token count of a usage amount in its pricing unit (``tokens``, ``1K tokens``...)."""
    match = _UNIT.match(unit or "tokens")
    scale = Decimal(1)
    if match:
        scale = (
            Decimal(match.group(1) or 1)
            * {None: 1, "K": 1000, "M": 1_000_000}[(match.group(2) or "").upper() or None]
        )
    value = amount * scale
    count = int(value.to_integral_value())
    if abs(value - count) > Decimal("0.01") or count < 0:
        raise MalformedResponse(f"not a whole token count: {value}", field=where)
    return count


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, float):
        value = repr(value)  # the shortest decimal that is this double: what AWS wrote
    try:
        result = Decimal(str(value).strip() or "0")
    except InvalidOperation:
        raise MalformedResponse(f"not a number: {str(value)[:40]!r}", field=where) from None
    if not result.is_finite():
        raise MalformedResponse("not a finite number", field=where)
    return result


def _moment(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = str(value or "").strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponse(f"not a timestamp: {text[:40]!r}", field=where) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _mapping(value: Any, where: str) -> dict[str, str]:
    """A map column: a JSON object (CSV), a list of pairs or a dict (Parquet), or empty."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return {str(k): str(v) for k, v in value if v is not None}
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        raise MalformedResponse("not a JSON object", field=where) from None
    if not isinstance(parsed, dict):
        raise MalformedResponse("not a JSON object", field=where)
    return {str(k): str(v) for k, v in parsed.items() if v is not None}


def is_bedrock(row: dict[str, Any]) -> bool:
    if row.get("line_item_product_code") in BEDROCK_PRODUCT_CODES:
        return True
    product = row.get("product")
    name = ""
    if isinstance(product, str) and "bedrock" in product.lower():
        name = product
    elif isinstance(product, dict | list):
        name = _mapping(product, "product").get("product_name", "")
    # Models sold through AWS Marketplace ("... (Amazon Bedrock Edition)").
    return "bedrock" in name.lower()


def line_items(
    rows: Iterable[dict[str, Any]], source: str, project_tag: str = ""
) -> Iterator[LineItem]:
    """Bedrock line items of a CUR 2.0 file's rows (other services are skipped)."""
    for number, row in enumerate(rows, start=2):  # line 1 of a CSV is its header
        if not is_bedrock(row):
            continue
        where = f"{source} row {number}"
        for column in REQUIRED_COLUMNS:
            if column not in row:
                raise MalformedResponse("required column is missing", field=f"{source}:{column}")
        yield _line_item(row, where, project_tag)


def _line_item(row: dict[str, Any], where: str, project_tag: str) -> LineItem:
    usage_type = str(row["line_item_usage_type"] or "")
    kind, stem = token_type_of(usage_type)
    tier, stem = tier_of(stem)
    line_type = str(row["line_item_line_item_type"] or "")
    tokens = 0
    if kind and line_type in USAGE_LINE_TYPES:
        amount = _decimal(row["line_item_usage_amount"], f"{where}.line_item_usage_amount")
        tokens = tokens_of(amount, str(row.get("pricing_unit") or ""), f"{where}.pricing_unit")
    account = str(row["line_item_usage_account_id"] or "")
    tags = _mapping(row.get("resource_tags"), f"{where}.resource_tags")
    project = account
    if project_tag:
        project = tags.get(project_tag) or tags.get(f"user:{project_tag}") or account
    return LineItem(
        start=_moment(row["line_item_usage_start_date"], f"{where}.line_item_usage_start_date"),
        end=_moment(row["line_item_usage_end_date"], f"{where}.line_item_usage_end_date"),
        line_item_type=line_type,
        usage_type=usage_type,
        model=model_of(str(row.get("line_item_resource_id") or ""), stem),
        account_id=account,
        project_id=project,
        principal=str(row.get("line_item_iam_principal") or ""),
        service_tier=tier,
        token_type=kind if line_type in USAGE_LINE_TYPES else "",
        tokens=tokens,
        cost=_decimal(row["line_item_unblended_cost"], f"{where}.line_item_unblended_cost"),
        currency=str(row["line_item_currency_code"] or "USD").strip().upper(),
    )


def read_rows(name: str, data: bytes) -> Iterator[dict[str, Any]]:
    """Rows of one export file: ``.csv.gz``/``.csv`` or ``.parquet``."""
    if name.endswith(".parquet"):
        yield from _parquet_rows(name, data)
        return
    if name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise MalformedResponse(f"not a gzip file ({exc})", field=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedResponse("not UTF-8 text", field=name) from None
    yield from csv.DictReader(io.StringIO(text, newline=""))


def _parquet_rows(name: str, data: bytes) -> Iterator[dict[str, Any]]:
    import pyarrow as pa  # imported here: only Parquet exports need it
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError) as exc:
        raise MalformedResponse(f"not a Parquet file ({exc})", field=name) from None
    for batch in table.to_batches(max_chunksize=50_000):
        yield from batch.to_pylist()
