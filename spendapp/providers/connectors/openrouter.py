"""OpenRouter connector: daily activity by model and key, and the credits balance.

Endpoints (OpenRouter API reference, "Analytics" and "API Keys"/"Credits"; a *management*
key is required for all of them, ``Authorization: Bearer <key>``):

* ``GET /api/v1/activity?date=YYYY-MM-DD[&api_key_hash=HASH]``: ``{"data": [item, ...]}``,
  one item per day x model x upstream endpoint (``model``, ``model_permaslug``,
  ``endpoint_id``, ``provider_name``, ``usage`` in dollars, ``byok_usage_inference``,
  ``requests``, ``prompt_tokens``, ``completion_tokens``, ``reasoning_tokens``). Only the
  last 30 *completed* UTC days are served; there is no key grouping, only a key filter.
* ``GET /api/v1/keys?include_disabled=true&offset=N``: ``{"data": [key, ...]}`` with the
  key's ``hash`` (what the activity filter takes), ``name``, ``label``, ``disabled``.
* ``GET /api/v1/credits``: ``{"data": {"total_credits": n, "total_usage": n}}``; the balance
  is the difference.

So one day is read as one request per key (filtered by its hash) plus one unfiltered request;
what the unfiltered total holds beyond the listed keys (usage of a deleted key) is kept as a
row with ``api_key_id=""``, so the day adds up to OpenRouter's own total exactly.

Mapping: ``prompt_tokens`` -> uncached input (OpenRouter reports no cache split here),
``completion_tokens`` -> output (``reasoning_tokens`` are part of them and go to ``extra``),
``requests`` -> requests. Items of the same model served by different upstream providers are
summed into one usage row; costs keep them apart as line items ``"<model> via <provider>"``.
``usage`` is billed cost in USD, parsed as Decimal (never float).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import BalanceRecord, CostRecord, NamedEntity, Page, UsageRecord

from .base import Connector, EndpointSpec, count_or_zero, dimension, optional_decimal, require
from .http import HttpClient

ACTIVITY_DAYS = 30  # the activity endpoint serves the last 30 completed UTC days
KEYS_PAGE = 100  # keys per page of the key list (offset pagination)
USAGE_MEASURES = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "requests")


class OpenRouterConnector(Connector):
    provider = "openrouter"
    probe_endpoint = "openrouter.activity"
    connected_message = "Connected to OpenRouter: the management key can read credits and keys."
    default_base_url = "https://openrouter.ai/api/v1"
    display_name = "OpenRouter"

    def __init__(self, base_url: str, api_key: str, *, client: HttpClient | None = None):
        super().__init__(base_url, api_key, client=client)
        self._key_hashes: list[str] | None = None

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.reveal()}"}

    def endpoints(self) -> list[EndpointSpec]:
        day = timedelta(days=1)
        return [
            EndpointSpec("openrouter.activity", "usage", "1d", day, history_days=ACTIVITY_DAYS),
            EndpointSpec("openrouter.costs", "cost", "1d", day, history_days=ACTIVITY_DAYS),
        ]

    def _path(self, spec: EndpointSpec) -> str:
        return "activity"

    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        return [("date", start.date().isoformat())]

    # -- fetching: one request per key and one for the whole day -------------------------------

    def _fetch_pages(self, spec: EndpointSpec, start: datetime, end: datetime) -> Iterator[Page]:
        """One page per completed UTC day of ``[start, end)``: every key's activity, plus what
        the day's unfiltered total holds beyond them. Days not completed yet give no records
        (OpenRouter answers them with an error)."""
        today = datetime.now(UTC).date()
        day = start.date()
        while datetime(day.year, day.month, day.day, tzinfo=UTC) < end:
            if day < today:
                with self._scrubbed_errors():
                    yield Page(records=self._day(spec, day), has_more=False, next_page=None)
            day += timedelta(days=1)

    def _day(self, spec: EndpointSpec, day: date) -> list[Any]:
        url = self._url("activity")
        by_key: list[Page] = []
        for key_hash in self._keys():
            body = self._get(url, [("date", day.isoformat()), ("api_key_hash", key_hash)])
            by_key.append(self._parse(spec, body, key_hash))
        total = self.parse_page(spec, self._get(url, [("date", day.isoformat())]))
        rest = _remainder(spec, total.records, [r for p in by_key for r in p.records])
        return [r for p in by_key for r in p.records] + rest

    def _keys(self) -> list[str]:
        if self._key_hashes is None:
            self._key_hashes = [e.id for e in self._list_keys()]
        return self._key_hashes

    def _list_keys(self) -> list[NamedEntity]:
        out: list[NamedEntity] = []
        url = self._url("keys")
        for page_no in range(10_000):
            params = [("include_disabled", "true"), ("offset", str(len(out)))]
            body = self._get(url, params)
            where = f"keys[page {page_no}]"
            if not isinstance(body, dict):
                raise MalformedResponse("expected a JSON object", field=where)
            data = require(body, "data", list, where)
            for i, item in enumerate(data):
                iwhere = f"{where}.data[{i}]"
                if not isinstance(item, dict):
                    raise MalformedResponse("expected an object", field=iwhere)
                key_hash = require(item, "hash", str, iwhere)
                name = dimension(item, "name", iwhere) or dimension(item, "label", iwhere)
                out.append(NamedEntity("api_key", key_hash, name))
            if len(data) < KEYS_PAGE:
                return out
        raise MalformedResponse("too many pages", field="keys")

    # -- parsing ---------------------------------------------------------------------------------

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        """One activity answer (every key, or ``api_key_id=""`` rows)."""
        return self._parse(spec, body, "")

    def _parse(self, spec: EndpointSpec, body: Any, key_hash: str) -> Page:
        if not isinstance(body, dict):
            raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
        data = require(body, "data", list)
        usage: dict[tuple, dict[str, Any]] = {}
        costs: dict[tuple, Decimal] = defaultdict(Decimal)
        for i, item in enumerate(data):
            where = f"data[{i}]"
            if not isinstance(item, dict):
                raise MalformedResponse("expected an activity object", field=where)
            day = _parse_date(require(item, "date", str, where), f"{where}.date")
            model = require(item, "model", str, where)
            amount = optional_decimal(require(item, "usage", (int, Decimal, str), where), where)
            assert amount is not None
            line = f"{model} via {dimension(item, 'provider_name', where) or 'unknown'}"
            costs[(day, model, line)] += amount
            row = usage.setdefault((day, model), dict.fromkeys(USAGE_MEASURES, 0))
            for measure in USAGE_MEASURES:
                row[measure] += count_or_zero(item, measure, where)
            byok = optional_decimal(item.get("byok_usage_inference"), f"{where}.byok")
            if byok:
                row["byok_usage_inference"] = row.get("byok_usage_inference", Decimal(0)) + byok
        if spec.kind == "cost":
            records: list[Any] = [
                CostRecord(
                    endpoint=spec.name,
                    bucket_start=_midnight(day),
                    bucket_end=_midnight(day) + timedelta(days=1),
                    amount=amount,
                    currency="USD",
                    api_key_id=key_hash,
                    line_item=line,
                    model=model,
                    cost_type="tokens",
                )
                for (day, model, line), amount in sorted(costs.items())
            ]
        else:
            records = [
                _usage_record(spec, day, model, key_hash, row)
                for (day, model), row in sorted(usage.items())
            ]
        return Page(records=records, has_more=False, next_page=None)

    # -- names, balance, connection test -------------------------------------------------------

    def _names(self) -> list[NamedEntity]:
        entities = self._list_keys()
        self._key_hashes = [e.id for e in entities]
        return entities

    def _balances(self) -> list[BalanceRecord]:
        body = self._get(self._url("credits"), [])
        if not isinstance(body, dict):
            raise MalformedResponse("expected a JSON object", field="credits")
        data = require(body, "data", dict)
        total = optional_decimal(
            require(data, "total_credits", (int, Decimal, str), "data"), "data.total_credits"
        )
        used = optional_decimal(
            require(data, "total_usage", (int, Decimal, str), "data"), "data.total_usage"
        )
        assert total is not None and used is not None
        return [
            BalanceRecord(
                observed_at=datetime.now(UTC),
                currency="USD",
                amount=total - used,
                total_credits=total,
                total_usage=used,
            )
        ]

    def _test_connection(self) -> str:
        self._balances()
        self._list_keys()
        return self.connected_message


def _usage_record(spec: EndpointSpec, day: date, model: str, key: str, row: dict) -> UsageRecord:
    extra: dict[str, Any] = {}
    if row["reasoning_tokens"]:
        extra["reasoning_tokens"] = row["reasoning_tokens"]
    if row.get("byok_usage_inference"):
        extra["byok_usage_inference"] = str(row["byok_usage_inference"])
    return UsageRecord(
        endpoint=spec.name,
        bucket_start=_midnight(day),
        bucket_end=_midnight(day) + timedelta(days=1),
        model=model,
        api_key_id=key,
        input_uncached_tokens=row["prompt_tokens"],
        output_tokens=row["completion_tokens"],
        requests=row["requests"],
        extra=extra,
    )


def _remainder(spec: EndpointSpec, total: list[Any], keyed: list[Any]) -> list[Any]:
    """What the day's unfiltered total holds beyond the listed keys, as ``api_key_id=""``
    rows (usage of deleted keys); an error if the keys add up to more than the total."""
    if spec.kind == "cost":
        left: dict[tuple, Decimal] = defaultdict(Decimal)
        first: dict[tuple, CostRecord] = {}
        for r in total:
            left[(r.bucket_start, r.line_item)] += r.amount
            first.setdefault((r.bucket_start, r.line_item), r)
        for r in keyed:
            left[(r.bucket_start, r.line_item)] -= r.amount
        out = []
        for k, amount in sorted(left.items()):
            if amount < 0 or k not in first:
                raise MalformedResponse(
                    f"the keys' activity exceeds the day's total for {k[1]!r}", field="usage"
                )
            if amount:
                base = first[k]
                out.append(CostRecord(**{**_fields(base), "amount": amount, "api_key_id": ""}))
        return out
    fields = ("input_uncached_tokens", "output_tokens", "requests")
    left_u: dict[tuple, list[int]] = {}
    first_u: dict[tuple, UsageRecord] = {}
    for r in total:
        left_u[(r.bucket_start, r.model)] = [getattr(r, f) for f in fields]
        first_u[(r.bucket_start, r.model)] = r
    for r in keyed:
        k = (r.bucket_start, r.model)
        if k not in left_u:
            raise MalformedResponse(f"a key's model {r.model!r} is not in the day's total")
        left_u[k] = [a - getattr(r, f) for a, f in zip(left_u[k], fields, strict=True)]
    out_u = []
    for k, values in sorted(left_u.items()):
        if min(values) < 0:
            raise MalformedResponse(f"the keys' activity exceeds the day's total for {k[1]!r}")
        if any(values):
            out_u.append(
                UsageRecord(
                    endpoint=spec.name,
                    bucket_start=k[0],
                    bucket_end=k[0] + timedelta(days=1),
                    model=k[1],
                    **dict(zip(fields, values, strict=True)),
                )
            )
    return out_u


def _fields(record: CostRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise MalformedResponse(f"not a YYYY-MM-DD date: {value[:20]!r}", field=field) from None
