"""OpenAI Admin API connector: organization usage (completions, embeddings, ...) and costs.

Endpoints synced (OpenAI's Usage and Costs API reference):

* ``openai.completions``: ``/organization/usage/completions``, ``1h`` buckets, ``limit`` 168,
  max window 7 days (one page covers a full window);
* ``openai.embeddings``: ``/organization/usage/embeddings``, same widths and window;
* ``openai.costs``: ``/organization/costs``, ``1d`` buckets (the only width), ``limit`` 180
  (the maximum), max window 31 days.

Every other usage kind (moderations, images, audio_speeches, audio_transcriptions,
vector_stores, code_interpreter_sessions, file_search_calls, web_search_calls) is synced too,
on by default (``OpenAIConnector(..., usage_kinds=[...])`` narrows them): a kind the
organisation does not use answers empty buckets and stores nothing. Their non-token measures
(images, characters, seconds, ...) go to ``UsageRecord.extra``, as do the per-modality counts
of completions (text, audio, image; input totals include cached and cache-write tokens, and
``input_uncached_tokens`` excludes both). Dimensions that ``UsageRecord`` has no column for
(image ``size``/``source``, ``vector_store_id``, ``context_level``) are never grouped by, so
every record keeps a unique natural key.

Completions are also grouped by ``api_source`` while the API accepts it
(`Connector.newer_groupings`): the issue and OpenAI's newer documentation name it, but the
published OpenAPI document (2.3.0, August 2026) does not, so a 400 to it drops the grouping.

Costs are grouped by ``project_id``, ``line_item`` and ``api_key_id``: the finest split the
endpoint offers, so spend can be attributed to keys (totals are unchanged by grouping).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import CostRecord, NamedEntity, Page, UsageRecord

from .base import (
    Connector,
    EndpointSpec,
    count_or_zero,
    dimension,
    optional_count,
    optional_decimal,
    require,
    required_count,
    unix_seconds,
    utc_from_unix,
)
from .http import HttpClient

# Maximum ``limit`` (buckets per page) per bucket width for the usage endpoints.
USAGE_MAX_LIMIT = {"1d": 31, "1h": 168, "1m": 1440}
COSTS_MAX_LIMIT = 180
USAGE_WINDOW = timedelta(days=7)  # 168 hourly buckets: one page at limit 168
COSTS_WINDOW = timedelta(days=31)

ALL_DIMENSIONS = ("project_id", "user_id", "api_key_id", "model")


@dataclass(frozen=True, slots=True)
class UsageKind:
    """One ``/organization/usage/<path>`` endpoint and how to read its results."""

    path: str
    group_by: tuple[str, ...]
    required: tuple[str, ...]  # required integer measures
    extra: tuple[str, ...] = ()  # measures (required or not) kept in ``UsageRecord.extra``
    # Whether ``num_model_requests`` are model requests of their own. Web searches are made
    # inside completions requests already counted there: theirs go to ``extra``.
    counts_requests: bool = True
    newer_group_by: tuple[str, ...] = ()  # asked for while Connector.newer_groupings


USAGE_KINDS: dict[str, UsageKind] = {
    "completions": UsageKind(
        "completions",
        ("project_id", "model", "api_key_id", "user_id", "batch", "service_tier"),
        ("input_tokens", "output_tokens", "num_model_requests"),
        (
            "input_text_tokens",
            "output_text_tokens",
            "input_cached_text_tokens",
            "input_cached_audio_tokens",
            "input_image_tokens",
            "input_cached_image_tokens",
            "output_image_tokens",
        ),
        newer_group_by=("api_source",),
    ),
    "embeddings": UsageKind("embeddings", ALL_DIMENSIONS, ("input_tokens", "num_model_requests")),
    "moderations": UsageKind("moderations", ALL_DIMENSIONS, ("input_tokens", "num_model_requests")),
    "images": UsageKind("images", ALL_DIMENSIONS, ("images", "num_model_requests"), ("images",)),
    "audio_speeches": UsageKind(
        "audio_speeches", ALL_DIMENSIONS, ("characters", "num_model_requests"), ("characters",)
    ),
    "audio_transcriptions": UsageKind(
        "audio_transcriptions", ALL_DIMENSIONS, ("num_model_requests",), ("seconds",)
    ),
    "vector_stores": UsageKind("vector_stores", ("project_id",), (), ("usage_bytes",)),
    "code_interpreter_sessions": UsageKind(
        "code_interpreter_sessions", ("project_id",), (), ("num_sessions",)
    ),
    "file_search_calls": UsageKind(
        "file_search_calls", ("project_id", "user_id", "api_key_id"), (), ("num_requests",)
    ),
    "web_search_calls": UsageKind(
        "web_search_calls",
        ALL_DIMENSIONS,
        ("num_model_requests",),
        ("num_model_requests", "num_requests"),
        counts_requests=False,
    ),
}
# Every kind: an organisation that never used one gets empty buckets (no rows, no cost), one
# that did sees it without configuring anything.
DEFAULT_USAGE_KINDS = tuple(USAGE_KINDS)

COSTS_GROUP_BY = ("project_id", "line_item", "api_key_id")

# Known spellings of the part after the last comma of a cost ``line_item``
# ("gpt-5.5, cached input"). The format is unverified, so anything else maps to "".
LINE_ITEM_TOKEN_TYPES = {
    "input": "input",
    "input tokens": "input",
    "input_tokens": "input",
    "uncached input": "input",
    "cached input": "cached_input",
    "cached input tokens": "cached_input",
    "cached_input": "cached_input",
    "input_cached_tokens": "cached_input",
    "cache read": "cached_input",
    "cache write": "cache_write",
    "cache writes": "cache_write",
    "cached write": "cache_write",
    "cache write input": "cache_write",
    "cache_write": "cache_write",
    "input_cache_write_tokens": "cache_write",
    "output": "output",
    "output tokens": "output",
    "output_tokens": "output",
}


def parse_line_item(line_item: str) -> tuple[str, str]:
    """``"gpt-5.5, cached input"`` -> ``("gpt-5.5", "cached_input")``; unknown -> ``("", "")``.

    Only when the label after the last comma is a known token type is the part before it taken
    as the model. A bare known label (``"input_tokens"``) gives a token type and no model.
    """
    text = line_item.strip()
    if not text:
        return "", ""
    model, sep, label = text.rpartition(",")
    if not sep:
        return "", LINE_ITEM_TOKEN_TYPES.get(" ".join(text.lower().split()), "")
    token_type = LINE_ITEM_TOKEN_TYPES.get(" ".join(label.lower().split()), "")
    model = model.strip()
    if not token_type or not model:
        return "", ""
    return model, token_type


def _measure(value: Any, field: str) -> int | str:
    """A non-token measure for ``extra``: int when integral, else the decimal as a string."""
    number = optional_decimal(value, field)
    assert number is not None
    if number < 0:
        raise MalformedResponse(f"negative measure {number}", field=field)
    if number == number.to_integral_value():
        return int(number)
    return str(number)


class OpenAIConnector(Connector):
    provider = "openai"
    probe_endpoint = "openai.completions"
    connected_message = "Connected to OpenAI: the admin key can read organization usage."
    default_base_url = "https://api.openai.com/v1"
    display_name = "OpenAI"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: HttpClient | None = None,
        usage_kinds: Sequence[str] | None = None,
        newer_groupings: bool = True,
    ) -> None:
        super().__init__(base_url, api_key, client=client)
        self.newer_groupings = newer_groupings
        kinds = tuple(DEFAULT_USAGE_KINDS if usage_kinds is None else usage_kinds)
        unknown = [k for k in kinds if k not in USAGE_KINDS]
        if unknown:
            raise ValueError(f"unknown OpenAI usage kinds: {', '.join(unknown)}")
        self.usage_kinds = kinds

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.reveal()}"}

    # -- endpoints ------------------------------------------------------------------------------

    def endpoints(self) -> list[EndpointSpec]:
        specs = [
            EndpointSpec(f"openai.{kind}", "usage", "1h", USAGE_WINDOW, USAGE_MAX_LIMIT["1h"])
            for kind in self.usage_kinds
        ]
        specs.append(EndpointSpec("openai.costs", "cost", "1d", COSTS_WINDOW, COSTS_MAX_LIMIT))
        return specs

    def _path(self, spec: EndpointSpec) -> str:
        if spec.kind == "cost":
            return "organization/costs"
        return f"organization/usage/{self._usage_kind(spec).path}"

    @staticmethod
    def _usage_kind(spec: EndpointSpec) -> UsageKind:
        name = spec.name.removeprefix("openai.")
        try:
            return USAGE_KINDS[name]
        except KeyError:
            raise ValueError(f"not an OpenAI usage endpoint: {spec.name}") from None

    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        params = [
            ("start_time", unix_seconds(start)),
            ("end_time", unix_seconds(end)),
            ("bucket_width", spec.bucket_width),
        ]
        if spec.kind == "cost":
            group_by: tuple[str, ...] = COSTS_GROUP_BY
            limit = COSTS_MAX_LIMIT
        else:
            kind = self._usage_kind(spec)
            group_by = kind.group_by + (kind.newer_group_by if self.newer_groupings else ())
            limit = USAGE_MAX_LIMIT[spec.bucket_width]
        params += [("group_by", g) for g in group_by]
        params.append(("limit", str(spec.page_limit or limit)))
        return params

    # -- parsing --------------------------------------------------------------------------------

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        if not isinstance(body, dict):
            raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
        require(body, "object", str)
        data = require(body, "data", list)
        has_more = require(body, "has_more", bool)
        if "next_page" not in body:
            raise MalformedResponse("required field is missing", field="next_page")
        next_page = body["next_page"]
        if next_page is not None and not isinstance(next_page, str):
            raise MalformedResponse(
                f"expected a string or null, got {type(next_page).__name__}", field="next_page"
            )
        kind = None if spec.kind == "cost" else self._usage_kind(spec)
        records: list[Any] = []
        for b, bucket in enumerate(data):
            where = f"data[{b}]"
            if not isinstance(bucket, dict):
                raise MalformedResponse("expected a bucket object", field=where)
            start = utc_from_unix(require(bucket, "start_time", int, where), f"{where}.start_time")
            end = utc_from_unix(require(bucket, "end_time", int, where), f"{where}.end_time")
            results = require(bucket, "results", list, where)
            for r, result in enumerate(results):
                rwhere = f"{where}.results[{r}]"
                if not isinstance(result, dict):
                    raise MalformedResponse("expected a result object", field=rwhere)
                if kind is None:
                    records.append(self._cost(spec, result, start, end, rwhere))
                elif kind.path == "completions":
                    records.append(self._completion(spec, kind, result, start, end, rwhere))
                else:
                    records.append(self._other_usage(spec, kind, result, start, end, rwhere))
        return Page(records=records, has_more=has_more, next_page=next_page)

    @staticmethod
    def _dimensions(result: dict[str, Any], where: str) -> dict[str, str]:
        return {
            "model": dimension(result, "model", where),
            "project_id": dimension(result, "project_id", where),
            "api_key_id": dimension(result, "api_key_id", where),
            "user_id": dimension(result, "user_id", where),
            "service_tier": dimension(result, "service_tier", where),
            "batch": dimension(result, "batch", where),
            "api_source": dimension(result, "api_source", where),
        }

    def _completion(
        self,
        spec: EndpointSpec,
        kind: UsageKind,
        result: dict[str, Any],
        start: datetime,
        end: datetime,
        where: str,
    ) -> UsageRecord:
        input_tokens = required_count(result, "input_tokens", where)
        output_tokens = required_count(result, "output_tokens", where)
        requests = required_count(result, "num_model_requests", where)
        cached = count_or_zero(result, "input_cached_tokens", where)
        cache_write = count_or_zero(result, "input_cache_write_tokens", where)
        uncached = optional_count(result, "input_uncached_tokens", where)
        if uncached is None:
            uncached = input_tokens - cached - cache_write
            if uncached < 0:
                raise MalformedResponse(
                    f"input_tokens {input_tokens} is less than input_cached_tokens {cached}"
                    f" + input_cache_write_tokens {cache_write}",
                    field=f"{where}.input_tokens",
                )
        elif uncached + cached + cache_write != input_tokens:
            raise MalformedResponse(
                f"input_uncached_tokens {uncached} + input_cached_tokens {cached}"
                f" + input_cache_write_tokens {cache_write} != input_tokens {input_tokens}",
                field=f"{where}.input_uncached_tokens",
            )
        extra: dict[str, Any] = {}
        for name in kind.extra:
            value = optional_count(result, name, where)
            if value is not None:
                extra[name] = value
        return UsageRecord(
            endpoint=spec.name,
            bucket_start=start,
            bucket_end=end,
            **self._dimensions(result, where),
            input_uncached_tokens=uncached,
            input_cached_tokens=cached,
            cache_write_tokens=cache_write,
            output_tokens=output_tokens,
            input_audio_tokens=count_or_zero(result, "input_audio_tokens", where),
            output_audio_tokens=count_or_zero(result, "output_audio_tokens", where),
            requests=requests,
            extra=extra,
        )

    def _other_usage(
        self,
        spec: EndpointSpec,
        kind: UsageKind,
        result: dict[str, Any],
        start: datetime,
        end: datetime,
        where: str,
    ) -> UsageRecord:
        for name in kind.required:
            if result.get(name) is None:
                raise MalformedResponse("required field is missing", field=f"{where}.{name}")
        extra: dict[str, Any] = {}
        for name in kind.extra:
            if result.get(name) is not None:
                extra[name] = _measure(result[name], f"{where}.{name}")
        return UsageRecord(
            endpoint=spec.name,
            bucket_start=start,
            bucket_end=end,
            **self._dimensions(result, where),
            input_uncached_tokens=count_or_zero(result, "input_tokens", where),
            output_tokens=count_or_zero(result, "output_tokens", where),
            requests=count_or_zero(result, "num_model_requests", where)
            if kind.counts_requests
            else 0,
            extra=extra,
        )

    @staticmethod
    def _cost(
        spec: EndpointSpec, result: dict[str, Any], start: datetime, end: datetime, where: str
    ) -> CostRecord:
        # Not marked required in the spec, but a cost row without an amount cannot be stored
        # truthfully (0 would silently understate spend), so it is treated as malformed.
        amount_obj = require(result, "amount", dict, where)
        value = optional_decimal(amount_obj.get("value"), f"{where}.amount.value")
        if value is None:
            raise MalformedResponse("required field is missing", field=f"{where}.amount.value")
        currency = dimension(amount_obj, "currency", f"{where}.amount").strip().upper() or "USD"
        line_item = dimension(result, "line_item", where)
        model, token_type = parse_line_item(line_item)
        return CostRecord(
            endpoint=spec.name,
            bucket_start=start,
            bucket_end=end,
            amount=value,
            currency=currency,
            project_id=dimension(result, "project_id", where),
            api_key_id=dimension(result, "api_key_id", where),
            line_item=line_item,
            model=model,
            token_type=token_type,
            quantity=optional_decimal(result.get("quantity"), f"{where}.quantity"),
            quantity_unit=dimension(result, "quantity_unit", where),
        )

    # -- names and connection test --------------------------------------------------------------

    def _names(self) -> list[NamedEntity]:
        entities: list[NamedEntity] = []
        projects: list[str] = []
        listing = [("limit", "100"), ("include_archived", "true")]
        for where, item in self._list_all("organization/projects", listing, "after"):
            project_id = require(item, "id", str, where)
            projects.append(project_id)
            entities.append(NamedEntity("project", project_id, dimension(item, "name", where)))
        for project_id in projects:
            path = f"organization/projects/{quote(project_id, safe='')}/api_keys"
            for where, item in self._list_all(path, [("limit", "100")], "after"):
                key_id = require(item, "id", str, where)
                name = dimension(item, "name", where) or dimension(item, "redacted_value", where)
                entities.append(NamedEntity("api_key", key_id, name, parent_id=project_id))
        for where, item in self._list_all("organization/users", [("limit", "100")], "after"):
            user_id = require(item, "id", str, where)
            name = dimension(item, "name", where) or dimension(item, "email", where)
            entities.append(NamedEntity("user", user_id, name))
        return entities
