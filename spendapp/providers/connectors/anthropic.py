"""Anthropic Admin API connector: Messages usage report and cost report.

Endpoints (Anthropic's Usage and Cost Admin API reference):

* ``anthropic.messages``: ``/v1/organizations/usage_report/messages``, ``1h`` buckets,
  ``limit`` 168, max window 7 days (one page covers a full window);
* ``anthropic.cost_report``: ``/v1/organizations/cost_report``, ``1d`` buckets, ``limit`` 31,
  max window 31 days (one page covers a full window).

Usage is grouped by ``api_key_id``, ``workspace_id``, ``model``, ``service_tier`` and
``context_window`` (the original five dimensions) and the newer ``inference_geo``,
``account_id``, ``service_account_id`` and ``speed`` (with the ``fast-mode-2026-02-01`` beta
header); a 400 to them (an older API edition) drops back to the five for the connector's life
(`Connector.newer_groupings`). Costs are grouped by ``workspace_id`` and ``description``; the
rows carry ``cost_type`` (tokens, web_search, code_execution, session_usage), the token type
(5-minute and 1-hour cache writes apart), ``inference_geo`` and ``speed``. Array parameters
use the bracket form (``group_by[]=model``). Headers: ``x-api-key`` and
``anthropic-version: 2023-06-01``.

Money: the cost report's ``amount`` is a decimal string in **cents**; it becomes dollars with
``Decimal(amount) / 100`` at full precision (never a float). Because we always group by
workspace, ``workspace_id: null`` means the default workspace and becomes
``records.DEFAULT_WORKSPACE_ID``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import (
    DEFAULT_WORKSPACE_ID,
    CostRecord,
    NamedEntity,
    Page,
    UsageRecord,
)

from .base import (
    Connector,
    EndpointSpec,
    count_or_zero,
    dimension,
    optional_decimal,
    optional_object,
    require,
    rfc3339,
    utc_from_rfc3339,
)
from .http import HttpClient

ANTHROPIC_VERSION = "2023-06-01"
USAGE_MAX_LIMIT = {"1d": 31, "1h": 168, "1m": 1440}
COST_MAX_LIMIT = 31
USAGE_WINDOW = timedelta(days=7)  # 168 hourly buckets: one page at limit 168
COST_WINDOW = timedelta(days=31)  # 31 daily buckets: one page at limit 31

# The original five dimensions (every edition of the API has them), then the newer ones:
# ``inference_geo``, ``account_id`` (a user: our user_id), ``service_account_id`` and ``speed``
# (fast mode; needs the beta header below). Without them fast-mode and US-only usage would be
# folded into standard rows and priced at the standard rate.
LEGACY_USAGE_GROUP_BY = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
USAGE_GROUP_BY = (
    *LEGACY_USAGE_GROUP_BY,
    "inference_geo",
    "account_id",
    "service_account_id",
    "speed",
)
FAST_MODE_BETA = "fast-mode-2026-02-01"
COST_GROUP_BY = ("workspace_id", "description")

TOKEN_TYPES = {
    "uncached_input_tokens": "input",
    "cache_read_input_tokens": "cached_input",
    "cache_creation.ephemeral_5m_input_tokens": "cache_write",
    "cache_creation.ephemeral_1h_input_tokens": "cache_write_1h",
    "output_tokens": "output",
}

DEFAULT_WORKSPACE_NAME = "Default workspace"


def cents_to_units(amount: Decimal) -> Decimal:
    """Exact ``amount / 100``: the precision grows with the input so nothing is rounded."""
    with localcontext() as ctx:
        ctx.prec = max(28, len(amount.as_tuple().digits) + 4)
        return amount / 100


class AnthropicConnector(Connector):
    provider = "anthropic"
    probe_endpoint = "anthropic.messages"
    connected_message = "Connected to Anthropic: the admin key can read the usage report."
    default_base_url = "https://api.anthropic.com"
    display_name = "Anthropic"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: HttpClient | None = None,
        newer_groupings: bool = True,
    ):
        super().__init__(base_url, api_key, client=client)
        self.newer_groupings = newer_groupings

    def _auth_headers(self) -> dict[str, str]:
        headers = {"x-api-key": self._api_key.reveal(), "anthropic-version": ANTHROPIC_VERSION}
        if self.newer_groupings:
            headers["anthropic-beta"] = FAST_MODE_BETA
        return headers

    # -- endpoints ------------------------------------------------------------------------------

    def endpoints(self) -> list[EndpointSpec]:
        return [
            EndpointSpec("anthropic.messages", "usage", "1h", USAGE_WINDOW, USAGE_MAX_LIMIT["1h"]),
            EndpointSpec("anthropic.cost_report", "cost", "1d", COST_WINDOW, COST_MAX_LIMIT),
        ]

    def _path(self, spec: EndpointSpec) -> str:
        if spec.kind == "cost":
            return "organizations/cost_report"
        return "organizations/usage_report/messages"

    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        params = [
            ("starting_at", rfc3339(start)),
            ("ending_at", rfc3339(end)),
            ("bucket_width", spec.bucket_width),
        ]
        if spec.kind == "cost":
            group_by = COST_GROUP_BY
            limit = COST_MAX_LIMIT
        else:
            group_by = USAGE_GROUP_BY if self.newer_groupings else LEGACY_USAGE_GROUP_BY
            limit = USAGE_MAX_LIMIT[spec.bucket_width]
        params += [("group_by[]", g) for g in group_by]
        params.append(("limit", str(spec.page_limit or limit)))
        return params

    # -- parsing --------------------------------------------------------------------------------

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        if not isinstance(body, dict):
            raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
        data = require(body, "data", list)
        has_more = require(body, "has_more", bool)
        if "next_page" not in body:
            raise MalformedResponse("required field is missing", field="next_page")
        next_page = body["next_page"]
        if next_page is not None and not isinstance(next_page, str):
            raise MalformedResponse(
                f"expected a string or null, got {type(next_page).__name__}", field="next_page"
            )
        records: list[Any] = []
        for b, bucket in enumerate(data):
            where = f"data[{b}]"
            if not isinstance(bucket, dict):
                raise MalformedResponse("expected a bucket object", field=where)
            start = utc_from_rfc3339(
                require(bucket, "starting_at", str, where), f"{where}.starting_at"
            )
            end = utc_from_rfc3339(require(bucket, "ending_at", str, where), f"{where}.ending_at")
            results = require(bucket, "results", list, where)
            for r, result in enumerate(results):
                rwhere = f"{where}.results[{r}]"
                if not isinstance(result, dict):
                    raise MalformedResponse("expected a result object", field=rwhere)
                if spec.kind == "cost":
                    records.append(self._cost(spec, result, start, end, rwhere))
                else:
                    records.append(self._usage(spec, result, start, end, rwhere))
        return Page(records=records, has_more=has_more, next_page=next_page)

    @staticmethod
    def _workspace(result: dict[str, Any], where: str) -> str:
        # We always group by workspace, so null is the default workspace, not "not grouped".
        return dimension(result, "workspace_id", where) or DEFAULT_WORKSPACE_ID

    def _usage(
        self,
        spec: EndpointSpec,
        result: dict[str, Any],
        start: datetime,
        end: datetime,
        where: str,
    ) -> UsageRecord:
        cache_creation = optional_object(result, "cache_creation", where)
        tool_use = optional_object(result, "server_tool_use", where)
        extra: dict[str, Any] = {}
        if tool_use is not None and tool_use.get("web_search_requests") is not None:
            extra["web_search_requests"] = count_or_zero(
                tool_use, "web_search_requests", f"{where}.server_tool_use"
            )
        return UsageRecord(
            endpoint=spec.name,
            bucket_start=start,
            bucket_end=end,
            model=dimension(result, "model", where),
            project_id=self._workspace(result, where),
            api_key_id=dimension(result, "api_key_id", where),
            user_id=dimension(result, "account_id", where),
            service_tier=dimension(result, "service_tier", where),
            context_window=dimension(result, "context_window", where),
            inference_geo=dimension(result, "inference_geo", where),
            speed=dimension(result, "speed", where),
            service_account_id=dimension(result, "service_account_id", where),
            input_uncached_tokens=count_or_zero(result, "uncached_input_tokens", where),
            input_cached_tokens=count_or_zero(result, "cache_read_input_tokens", where),
            cache_write_tokens=count_or_zero(
                cache_creation, "ephemeral_5m_input_tokens", f"{where}.cache_creation"
            ),
            cache_write_1h_tokens=count_or_zero(
                cache_creation, "ephemeral_1h_input_tokens", f"{where}.cache_creation"
            ),
            output_tokens=count_or_zero(result, "output_tokens", where),
            requests=0,  # the usage report has no request count
            extra=extra,
        )

    def _cost(
        self,
        spec: EndpointSpec,
        result: dict[str, Any],
        start: datetime,
        end: datetime,
        where: str,
    ) -> CostRecord:
        # Not marked required in the reference, but a cost row without an amount cannot be
        # stored truthfully (0 would silently understate spend): treated as malformed.
        raw = require(result, "amount", (str, int, Decimal), where)
        cents = optional_decimal(raw, f"{where}.amount")
        assert cents is not None
        amount = cents_to_units(cents)
        currency = dimension(result, "currency", where).strip().upper() or "USD"
        token_type_raw = dimension(result, "token_type", where)
        return CostRecord(
            endpoint=spec.name,
            bucket_start=start,
            bucket_end=end,
            amount=amount,
            currency=currency,
            project_id=self._workspace(result, where),
            line_item=dimension(result, "description", where),
            model=dimension(result, "model", where),
            token_type=TOKEN_TYPES.get(token_type_raw, ""),
            service_tier=dimension(result, "service_tier", where),
            context_window=dimension(result, "context_window", where),
            cost_type=dimension(result, "cost_type", where),
            inference_geo=dimension(result, "inference_geo", where),
            speed=dimension(result, "speed", where),
        )

    # -- names and connection test --------------------------------------------------------------

    def _names(self) -> list[NamedEntity]:
        entities = [NamedEntity("project", DEFAULT_WORKSPACE_ID, DEFAULT_WORKSPACE_NAME)]
        listing = [("limit", "1000"), ("include_archived", "true")]
        for where, item in self._list_all("organizations/workspaces", listing, "after_id"):
            workspace_id = require(item, "id", str, where)
            entities.append(NamedEntity("project", workspace_id, dimension(item, "name", where)))
        for where, item in self._list_all(
            "organizations/api_keys", [("limit", "1000")], "after_id"
        ):
            key_id = require(item, "id", str, where)
            entities.append(
                NamedEntity(
                    "api_key",
                    key_id,
                    dimension(item, "name", where),
                    parent_id=self._workspace(item, where),
                )
            )
        return entities
