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
    ClaudeCodeRecord,
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
CLAUDE_CODE_ENDPOINT = "anthropic.claude_code"
CLAUDE_CODE_LIMIT = 1000  # records per page, the maximum


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
            EndpointSpec(
                CLAUDE_CODE_ENDPOINT, "activity", "1d", timedelta(days=1), CLAUDE_CODE_LIMIT
            ),
        ]

    def _path(self, spec: EndpointSpec) -> str:
        if spec.kind == "cost":
            return "organizations/cost_report"
        if spec.kind == "activity":
            return "organizations/usage_report/claude_code"
        return "organizations/usage_report/messages"

    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        if spec.kind == "activity":  # one UTC day per request, records (not buckets) per page
            return [("starting_at", start.date().isoformat()), ("limit", str(CLAUDE_CODE_LIMIT))]
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
        if spec.kind == "activity":
            records = [claude_code_record(spec, item, f"data[{i}]") for i, item in enumerate(data)]
            return Page(records=records, has_more=has_more, next_page=next_page)
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


# -- Claude Code usage report ------------------------------------------------------------------


def _actor(record: dict[str, Any], where: str) -> tuple[str, str]:
    actor = require(record, "actor", dict, where)
    kind = require(actor, "type", str, f"{where}.actor")
    if kind == "user_actor":
        return kind, require(actor, "email_address", str, f"{where}.actor")
    if kind == "api_actor":
        return kind, require(actor, "api_key_name", str, f"{where}.actor")
    raise MalformedResponse(f"unknown actor type {kind!r}", field=f"{where}.actor.type")


def claude_code_record(spec: EndpointSpec, record: Any, where: str) -> ClaudeCodeRecord:
    """One record of the Claude Code usage report (Anthropic's "Get Claude Code Usage
    Report"): ``estimated_cost.amount`` is a number in cents, summed over the models."""
    if not isinstance(record, dict):
        raise MalformedResponse("expected a record object", field=where)
    day = utc_from_rfc3339(require(record, "date", str, where), f"{where}.date").date()
    actor_type, actor = _actor(record, where)
    core = optional_object(record, "core_metrics", where) or {}
    lines = optional_object(core, "lines_of_code", f"{where}.core_metrics") or {}
    totals = dict.fromkeys(("input", "output", "cache_read", "cache_creation"), 0)
    cents, currency, models = Decimal(0), "USD", {}
    breakdown = record.get("model_breakdown") or []
    if not isinstance(breakdown, list):
        raise MalformedResponse("expected a list", field=f"{where}.model_breakdown")
    for m, item in enumerate(breakdown):
        mwhere = f"{where}.model_breakdown[{m}]"
        if not isinstance(item, dict):
            raise MalformedResponse("expected an object", field=mwhere)
        tokens = optional_object(item, "tokens", mwhere) or {}
        counts = {k: count_or_zero(tokens, k, f"{mwhere}.tokens") for k in totals}
        for key, value in counts.items():
            totals[key] += value
        cost = optional_object(item, "estimated_cost", mwhere) or {}
        amount = optional_decimal(cost.get("amount"), f"{mwhere}.estimated_cost.amount")
        cents += amount or 0
        currency = dimension(cost, "currency", f"{mwhere}.estimated_cost").upper() or currency
        model = dimension(item, "model", mwhere)
        models[model] = {**counts, "estimated_cost": str(cents_to_units(amount or Decimal(0)))}
    remote = record.get("is_remote")
    return ClaudeCodeRecord(
        endpoint=spec.name,
        day=day,
        actor_type=actor_type,
        actor=actor,
        terminal_type=dimension(record, "terminal_type", where),
        is_remote=bool(remote) if isinstance(remote, bool) else False,
        customer_type=dimension(record, "customer_type", where),
        subscription_type=dimension(record, "subscription_type", where),
        sessions=count_or_zero(core, "num_sessions", f"{where}.core_metrics"),
        lines_added=count_or_zero(lines, "added", f"{where}.core_metrics.lines_of_code"),
        lines_removed=count_or_zero(lines, "removed", f"{where}.core_metrics.lines_of_code"),
        commits=count_or_zero(core, "commits_by_claude_code", f"{where}.core_metrics"),
        pull_requests=count_or_zero(core, "pull_requests_by_claude_code", f"{where}.core_metrics"),
        input_tokens=totals["input"],
        output_tokens=totals["output"],
        cache_read_tokens=totals["cache_read"],
        cache_creation_tokens=totals["cache_creation"],
        estimated_cost=cents_to_units(cents),
        currency=currency,
        models=models,
        tool_actions=record.get("tool_actions")
        if isinstance(record.get("tool_actions"), dict)
        else {},
    )
