"""Fireworks AI connector: billing usage by model, key and tag, and the rated billing summary.

Endpoints (Fireworks "Gateway REST API" reference; every path is account-scoped,
``Authorization: Bearer <API key>``; see docs/providers/fireworks.md for the pages used):

* ``GET /v1/accounts/{account_id}/billingUsage`` (operationId ``Gateway_GetAccountUsage``):
  ``startTime`` (inclusive) and ``endTime`` (exclusive, at most 31 days later),
  ``usageType``, ``timezone`` (daily buckets in that zone, UTC by default), ``groupBy``
  (repeated). Answer: ``{"serverlessCosts": [row, ...], "dedicatedCosts": [...]}``, a
  serverless row holding ``modelName``, ``promptTokens`` and ``completionTokens`` (int64 as
  JSON *strings*), ``startTime``/``endTime`` of its daily bucket, ``audioInputSeconds`` and a
  ``group`` map with the requested dimension values. No money, no request count, no paging.
* ``GET /v1/accounts/{account_id}/billing/summary`` (``Gateway_GetBillingSummary``):
  ``startTime``/``endTime`` of which only the dates count (end excluded). Answer:
  ``{"lineItems": [{category, groupingKey, groupingValue, secondaryGroupingKey,
  secondaryGroupingValue, quantity, unitAmount, totalCost}]}``, money as
  ``{currencyCode, units, nanos}`` (``units`` an int64 string, ``nanos`` billionths of a
  unit with the same sign), converted to Decimal exactly. The summary holds no dates: one
  request per UTC day gives daily costs.

Mapping: serverless usage only (``usageType=SERVERLESS``; dedicated deployments and training
are metered in accelerator-seconds and appear in the summary's costs), grouped by
``model_name``, ``api_key_id``, ``api_key_name`` and the three annotation tags
(``annotations.team``/``project``/``environment``). ``promptTokens`` -> uncached input
(Fireworks reports no cache split here), ``completionTokens`` -> output. The tags are no
Spendapp dimension: rows of one day x model x key are summed and the split by tag is kept in
``extra["tags"]``. A summary line item is a cost line ``"<category> / <value> / <secondary>"``;
its ``model`` is the grouping value when the grouping key names a model.

Account settings: ``account_id`` (the account slug of ``firectl whoami``, required).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import CostRecord, NamedEntity, Page, UsageRecord

from .base import (
    Connector,
    EndpointSpec,
    dimension,
    optional_decimal,
    optional_object,
    require,
    rfc3339,
    show,
    utc_from_rfc3339,
)
from .bedrock import CredentialError
from .http import HttpClient

WINDOW = timedelta(days=7)  # billingUsage takes up to 31 days; a week keeps windows small
NAMES_DAYS = 31  # key names are read from the last 31 days of usage (the API's longest range)
TAG_DIMENSIONS = ("annotations.team", "annotations.project", "annotations.environment")
GROUP_BY = ("model_name", "api_key_id", "api_key_name", *TAG_DIMENSIONS)
# Summary grouping keys whose value is a model name.
MODEL_KEYS = {"model", "model_name", "base_model", "base_model_name"}
TOKEN_TYPES = {"input": "input", "prompt": "input", "output": "output", "completion": "output"}
NANOS = 10**9
MAX_DIMENSION, MAX_LINE = 200, 300  # the stored columns' lengths
_ACCOUNT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_settings(settings: dict[str, Any]) -> dict[str, str]:
    """Validated settings, or CredentialError naming the setting."""
    if not isinstance(settings, dict):
        raise CredentialError("expected a JSON object", "settings")
    account_id = str(settings.get("account_id") or "").strip()
    if account_id.startswith("accounts/"):
        account_id = account_id[len("accounts/") :]
    if not _ACCOUNT_ID.match(account_id):
        raise CredentialError(
            "account_id: the Fireworks account id (firectl whoami) is required", "settings"
        )
    unknown = set(settings) - {"account_id"}
    if unknown:
        raise CredentialError(f"unknown setting(s): {', '.join(sorted(unknown))}", "settings")
    return {"account_id": account_id}


def check_account(settings: dict[str, Any], key: str | None) -> None:
    """Admin-form validation: raises CredentialError (never echoing the key)."""
    check_settings(settings)


class FireworksConnector(Connector):
    provider = "fireworks"
    probe_endpoint = "fireworks.costs"
    connected_message = "Connected to Fireworks AI: the API key can read the billing summary."
    default_base_url = "https://api.fireworks.ai"
    display_name = "Fireworks AI"
    uses_settings: ClassVar[bool] = True
    check_account = staticmethod(check_account)  # the admin form's validation

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: HttpClient | None = None,
        settings: dict[str, Any] | None = None,
    ):
        self.settings = check_settings(settings or {})
        super().__init__(base_url, api_key, client=client)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.reveal()}"}

    def endpoints(self) -> list[EndpointSpec]:
        return [
            EndpointSpec("fireworks.usage", "usage", "1d", WINDOW),
            EndpointSpec("fireworks.costs", "cost", "1d", WINDOW),
        ]

    def _account_path(self, tail: str) -> str:
        return f"accounts/{quote(self.settings['account_id'], safe='')}/{tail}"

    def _path(self, spec: EndpointSpec) -> str:
        if spec.kind == "cost":
            return self._account_path("billing/summary")
        return self._account_path("billingUsage")

    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        params = [("startTime", rfc3339(start)), ("endTime", rfc3339(end))]
        if spec.kind == "cost":
            return params
        params += [("usageType", "SERVERLESS"), ("timezone", "UTC")]
        return params + [("groupBy", g) for g in GROUP_BY]

    # -- fetching: usage in one request per window, costs one summary per UTC day -------------

    def _fetch_pages(self, spec: EndpointSpec, start: datetime, end: datetime) -> Iterator[Page]:
        if spec.kind != "cost":
            yield from super()._fetch_pages(spec, start, end)
            return
        url = self._url(self._path(spec))
        day = start.date()
        while _midnight(day) < end:
            params = self._window_params(spec, _midnight(day), _midnight(day) + timedelta(days=1))
            body = self._get(url, params)
            with self._scrubbed_errors():
                yield self.parse_page(spec, body, day=day)
            day += timedelta(days=1)

    # -- parsing ---------------------------------------------------------------------------------

    def parse_page(self, spec: EndpointSpec, body: Any, day: date | None = None) -> Page:
        """A billingUsage answer (usage) or one day's billing summary (costs: ``day`` is
        required, the summary holds no dates)."""
        if not isinstance(body, dict):
            raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
        if spec.kind == "cost":
            if day is None:
                raise ValueError("a billing summary page needs its day")
            return Page(records=_cost_records(spec, body, day), has_more=False, next_page=None)
        return Page(records=_usage_records(spec, body), has_more=False, next_page=None)

    # -- names, connection test ----------------------------------------------------------------

    def _names(self) -> list[NamedEntity]:
        """API key names, from the last 31 days of usage grouped by key id and name (the API
        has no account-wide key list)."""
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        end += timedelta(days=1)
        params = [
            ("startTime", rfc3339(end - timedelta(days=NAMES_DAYS))),
            ("endTime", rfc3339(end)),
            ("usageType", "SERVERLESS"),
            ("groupBy", "api_key_id"),
            ("groupBy", "api_key_name"),
        ]
        body = self._get(self._url(self._account_path("billingUsage")), params)
        if not isinstance(body, dict):
            raise MalformedResponse("expected a JSON object", field="billingUsage")
        names: dict[str, str] = {}
        for where, row in _rows(body):
            group = optional_object(row, "group", where) or {}
            key_id = dimension(group, "api_key_id", f"{where}.group")
            if key_id:
                name = dimension(group, "api_key_name", f"{where}.group")
                names[key_id] = name or names.get(key_id, "")
        return [NamedEntity("api_key", k, v) for k, v in sorted(names.items())]

    def _test_connection(self) -> str:
        yesterday = datetime.now(UTC).date() - timedelta(days=1)
        spec = self.endpoint("fireworks.costs")
        start = _midnight(yesterday)
        for _page in self.fetch_pages(spec, start, start + timedelta(days=1)):
            break
        return self.connected_message


# -- usage ---------------------------------------------------------------------------------------


def _rows(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    rows = body.get("serverlessCosts")
    if rows is None:  # proto3 JSON leaves an empty list out
        return
    if not isinstance(rows, list):
        raise MalformedResponse(
            f"expected an array, got {type(rows).__name__}", field="serverlessCosts"
        )
    for i, row in enumerate(rows):
        where = f"serverlessCosts[{i}]"
        if not isinstance(row, dict):
            raise MalformedResponse("expected an object", field=where)
        yield where, row


def _usage_records(spec: EndpointSpec, body: dict[str, Any]) -> list[UsageRecord]:
    sums: dict[tuple, dict[str, Any]] = {}
    for where, row in _rows(body):
        start = utc_from_rfc3339(require(row, "startTime", str, where), f"{where}.startTime")
        if start != _midnight(start.date()):
            raise MalformedResponse(
                "expected a daily bucket starting at 00:00 UTC", field=f"{where}.startTime"
            )
        group = optional_object(row, "group", where) or {}
        gwhere = f"{where}.group"
        model = dimension(group, "model_name", gwhere) or require(row, "modelName", str, where)
        key_id = dimension(group, "api_key_id", gwhere) or dimension(row, "apiKeyId", where)
        if len(model) > MAX_DIMENSION or len(key_id) > MAX_DIMENSION:
            raise MalformedResponse("a model or key id too long to store", field=where)
        prompt = _int64(row, "promptTokens", where)
        completion = _int64(row, "completionTokens", where)
        audio = optional_decimal(row.get("audioInputSeconds"), f"{where}.audioInputSeconds")
        acc = sums.setdefault(
            (start, model, key_id), {"prompt": 0, "completion": 0, "audio": Decimal(0), "tags": {}}
        )
        acc["prompt"] += prompt
        acc["completion"] += completion
        acc["audio"] += audio or 0
        tag = _tag(group, gwhere)
        if tag:
            t = acc["tags"].setdefault(tag, {"input_tokens": 0, "output_tokens": 0})
            t["input_tokens"] += prompt
            t["output_tokens"] += completion
    records = []
    for (start, model, key_id), acc in sorted(sums.items()):
        extra: dict[str, Any] = {}
        if acc["tags"]:
            extra["tags"] = dict(sorted(acc["tags"].items()))
        if acc["audio"]:
            extra["audio_input_seconds"] = str(acc["audio"])
        records.append(
            UsageRecord(
                endpoint=spec.name,
                bucket_start=start,
                bucket_end=start + timedelta(days=1),
                model=model,
                api_key_id=key_id,
                input_uncached_tokens=acc["prompt"],
                output_tokens=acc["completion"],
                extra=extra,
            )
        )
    return records


def _tag(group: dict[str, Any], where: str) -> str:
    """``team=a,project=b`` for the row's annotation tags that are set, else ``""``."""
    parts = []
    for name in TAG_DIMENSIONS:
        value = dimension(group, name, where)
        if value:
            parts.append(f"{name.split('.', 1)[1]}={value}")
    return ",".join(parts)


def _int64(row: dict[str, Any], key: str, where: str) -> int:
    """A non-negative int64 count, sent as a JSON string (proto3 JSON) or number; absent = 0."""
    value = row.get(key)
    field = f"{where}.{key}"
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise MalformedResponse(f"expected a non-negative integer, got {show(str(value))}", field=field)


# -- costs ---------------------------------------------------------------------------------------


def _cost_records(spec: EndpointSpec, body: dict[str, Any], day: date) -> list[CostRecord]:
    items = body.get("lineItems")
    if items is None:
        items = []  # a day without costs: proto3 JSON leaves the empty list out
    if not isinstance(items, list):
        raise MalformedResponse(f"expected an array, got {type(items).__name__}", field="lineItems")
    sums: dict[tuple, dict[str, Any]] = {}
    for i, item in enumerate(items):
        where = f"lineItems[{i}]"
        if not isinstance(item, dict):
            raise MalformedResponse("expected an object", field=where)
        amount, currency = money(require(item, "totalCost", dict, where), f"{where}.totalCost")
        category = dimension(item, "category", where)
        key = dimension(item, "groupingKey", where)
        value = dimension(item, "groupingValue", where)
        key2 = dimension(item, "secondaryGroupingKey", where)
        value2 = dimension(item, "secondaryGroupingValue", where)
        line = " / ".join(p for p in (category, value, value2) if p)
        if not line:
            raise MalformedResponse("a line item without category or grouping", field=where)
        if len(line) > MAX_LINE or len(value) > MAX_DIMENSION:
            raise MalformedResponse("a line item name too long to store", field=where)
        model = value if key in MODEL_KEYS else (value2 if key2 in MODEL_KEYS else "")
        token_type = ""
        if key2 == "token_type" or key == "token_type":
            raw = value2 if key2 == "token_type" else value
            token_type = TOKEN_TYPES.get(raw.lower(), raw.lower())
        quantity = optional_decimal(item.get("quantity"), f"{where}.quantity")
        acc = sums.setdefault(
            (line, currency),
            {"amount": Decimal(0), "model": model, "token_type": token_type, "quantity": None},
        )
        acc["amount"] += amount
        if quantity is not None:
            acc["quantity"] = (acc["quantity"] or 0) + quantity
    return [
        CostRecord(
            endpoint=spec.name,
            bucket_start=_midnight(day),
            bucket_end=_midnight(day) + timedelta(days=1),
            amount=acc["amount"],
            currency=currency,
            line_item=line,
            model=acc["model"],
            token_type=acc["token_type"],
            cost_type="tokens" if acc["token_type"] else "",
            quantity=acc["quantity"],
            quantity_unit="tokens" if acc["token_type"] and acc["quantity"] is not None else "",
        )
        for (line, currency), acc in sorted(sums.items())
    ]


def money(obj: dict[str, Any], where: str) -> tuple[Decimal, str]:
    """``google.type.Money`` as (exact Decimal, currency code): ``units`` (int64, a JSON string
    or number) plus ``nanos`` billionths (same sign as ``units``, |nanos| < 10**9)."""
    currency = require(obj, "currencyCode", str, where).strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise MalformedResponse(
            f"not an ISO 4217 code: {show(currency)}", field=f"{where}.currencyCode"
        )
    units_raw = obj.get("units", "0")
    if isinstance(units_raw, str) and re.fullmatch(r"\s*-?\d+\s*", units_raw):
        units = int(units_raw)
    elif isinstance(units_raw, int) and not isinstance(units_raw, bool):
        units = units_raw
    else:
        raise MalformedResponse("expected an int64 (string or integer)", field=f"{where}.units")
    nanos = obj.get("nanos", 0)
    if isinstance(nanos, bool) or not isinstance(nanos, int) or abs(nanos) >= NANOS:
        raise MalformedResponse("expected an integer below 10**9", field=f"{where}.nanos")
    if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        raise MalformedResponse("units and nanos have different signs", field=f"{where}.nanos")
    return Decimal(units) + Decimal(nanos).scaleb(-9), currency


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
