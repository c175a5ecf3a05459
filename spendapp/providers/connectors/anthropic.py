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

Usage and Cost Analytics API (beta since 2026-10-29, header
``anthropic-beta: analytics-usage-cost-2026-08-24``): ``/v1/organizations/analytics/usage``
and ``/v1/organizations/analytics/cost``. :meth:`AnthropicConnector.prepare` probes it once per
sync; a key that can read it syncs ``anthropic.messages`` and ``anthropic.cost_report`` from
it (same endpoint names, windows and record shape, so switching never double-counts), with the
``actor`` behind each request kept as ``user_id`` (a user) or ``service_account_id`` (a service
account). A 401/403/404 to the probe keeps the legacy reports above and returns a warning for
the sync run. Its rows are flat (``starting_at``/``ending_at``/``group``/``usage`` or
``cost``), paged by rows with ``limit``/``page``/``next_page``.

Money: the cost report's ``amount`` is a decimal string in **cents**; it becomes dollars with
``Decimal(amount) / 100`` at full precision (never a float). Because we always group by
workspace, ``workspace_id: null`` means the default workspace and becomes
``records.DEFAULT_WORKSPACE_ID``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from spendapp.providers.errors import MalformedResponse, ProviderError
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
    show,
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

# The Usage and Cost Analytics API (see the module docstring and docs/providers/anthropic.md).
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
ANALYTICS_USAGE_PATH = "organizations/analytics/usage"
ANALYTICS_COST_PATH = "organizations/analytics/cost"
ANALYTICS_LIMIT = 1000  # rows per page, the documented maximum
# What the probe's answer means "this key cannot read it": unauthorised, forbidden, or an
# organisation/edition without the endpoint.
ANALYTICS_REFUSED = (401, 403, 404)
ANALYTICS_USAGE_GROUP_BY = (
    "workspace_id",
    "api_key_id",
    "actor_type",
    "actor",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)
ANALYTICS_COST_GROUP_BY = (
    "workspace_id",
    "model",
    "cost_type",
    "token_type",
    "service_tier",
    "context_window",
    "inference_geo",
    "speed",
)
ACTOR_USER = "user"
ACTOR_SERVICE_ACCOUNT = "service_account"

log = logging.getLogger(__name__)

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
        # True once prepare() found that the key reads the Usage and Cost Analytics API.
        self.analytics = False

    def _auth_headers(self) -> dict[str, str]:
        headers = {"x-api-key": self._api_key.reveal(), "anthropic-version": ANTHROPIC_VERSION}
        betas = [ANALYTICS_BETA] if self.analytics else []
        if self.newer_groupings:
            betas.append(FAST_MODE_BETA)
        if betas:
            headers["anthropic-beta"] = ",".join(betas)
        return headers

    # -- the analytics probe ----------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Probe the Usage and Cost Analytics API once: one row of the last hour's usage.

        200: usage and costs come from it for this sync. 401/403/404: the legacy reports, and a
        warning naming the status (never the key). Any other failure (the API down after every
        retry, a malformed answer): the legacy reports this time, with a warning; both report
        the same spend, so nothing is lost.
        """
        self.analytics = True  # the probe itself needs the beta header
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        params = [
            ("starting_at", rfc3339(end - timedelta(hours=1))),
            ("ending_at", rfc3339(end)),
            ("time_bucket_width", "1h"),
            ("limit", "1"),
        ]
        try:
            with self._scrubbed_errors():
                body = self._get(self._url(ANALYTICS_USAGE_PATH), params)
                self._parse_analytics(self.endpoint("anthropic.messages"), body)
        except ProviderError as exc:
            self.analytics = False
            if exc.status in ANALYTICS_REFUSED:
                reason = f"the key cannot read it (HTTP {exc.status})"
            else:
                reason = f"the probe failed ({exc})"
            warning = (
                f"Anthropic Usage and Cost Analytics API not used: {reason}; usage and costs "
                f"were read from the legacy Admin usage_report/cost_report."
            )
            # A key without the beta is the usual case, not a fault: the sync run keeps the
            # note (admin), the log says it at INFO; a failed probe is worth a WARNING.
            refused = exc.status in ANALYTICS_REFUSED
            log.log(logging.INFO if refused else logging.WARNING, "%s", warning)
            return [warning]
        return []

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
        if self.analytics and spec.kind in ("usage", "cost"):
            return ANALYTICS_COST_PATH if spec.kind == "cost" else ANALYTICS_USAGE_PATH
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
        if self.analytics:
            group_by = ANALYTICS_COST_GROUP_BY if spec.kind == "cost" else ANALYTICS_USAGE_GROUP_BY
            return [
                ("starting_at", rfc3339(start)),
                ("ending_at", rfc3339(end)),
                ("time_bucket_width", spec.bucket_width),
                *(("group_by[]", g) for g in group_by),
                ("limit", str(ANALYTICS_LIMIT)),
            ]
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
        if self.analytics and spec.kind in ("usage", "cost"):
            return self._parse_analytics(spec, body)
        data, has_more, next_page = _envelope(body)
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

    def _parse_analytics(self, spec: EndpointSpec, body: Any) -> Page:
        """One page of ``/analytics/usage`` or ``/analytics/cost``: flat rows, each with its
        own ``starting_at``/``ending_at``, its ``group`` and its ``usage`` or ``cost``."""
        data, has_more, next_page = _envelope(body)
        records: list[Any] = []
        for i, item in enumerate(data):
            where = f"data[{i}]"
            if not isinstance(item, dict):
                raise MalformedResponse("expected a row object", field=where)
            start = utc_from_rfc3339(
                require(item, "starting_at", str, where), f"{where}.starting_at"
            )
            end = utc_from_rfc3339(require(item, "ending_at", str, where), f"{where}.ending_at")
            if end <= start:
                raise MalformedResponse("ending_at is not after starting_at", field=where)
            group = optional_object(item, "group", where) or {}
            gwhere = f"{where}.group"
            if spec.kind == "cost":
                cost = require(item, "cost", dict, where)
                records.append(self._cost(spec, {**group, **cost}, start, end, f"{where}.cost"))
                continue
            usage = require(item, "usage", dict, where)
            user_id, service_account_id = _analytics_actor(group, gwhere)
            record = self._usage(
                spec, usage, start, end, f"{where}.usage", group=group, group_where=gwhere
            )
            records.append(
                replace(
                    record,
                    user_id=user_id,
                    service_account_id=service_account_id,
                    requests=count_or_zero(usage, "requests", f"{where}.usage"),
                )
            )
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
        group: dict[str, Any] | None = None,
        group_where: str = "",
    ) -> UsageRecord:
        # Legacy results carry their dimensions beside the counts; analytics rows in ``group``.
        dims, dwhere = (result, where) if group is None else (group, group_where)
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
            model=dimension(dims, "model", dwhere),
            project_id=self._workspace(dims, dwhere),
            api_key_id=dimension(dims, "api_key_id", dwhere),
            user_id=dimension(dims, "account_id", dwhere),
            service_tier=dimension(dims, "service_tier", dwhere),
            context_window=dimension(dims, "context_window", dwhere),
            inference_geo=dimension(dims, "inference_geo", dwhere),
            speed=dimension(dims, "speed", dwhere),
            service_account_id=dimension(dims, "service_account_id", dwhere),
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


def _envelope(body: Any) -> tuple[list, bool, str | None]:
    """``data``, ``has_more`` and ``next_page`` of any report page (legacy or analytics)."""
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
    return data, has_more, next_page


def _analytics_actor(group: dict[str, Any], where: str) -> tuple[str, str]:
    """``(user_id, service_account_id)`` of an analytics row's ``actor``.

    The reference names ``actor`` and ``actor_type`` as group fields; we read ``actor`` as the
    actor's id, or an object carrying it in ``id``. Usage no user or service account stands
    behind (``actor: null``) has neither; an actor type we do not know keeps its usage and
    spend but not the split (logged).
    """
    raw = group.get("actor")
    if raw is None:
        return "", ""
    if isinstance(raw, dict):
        actor = require(raw, "id", str, f"{where}.actor")
        kind = dimension(raw, "type", f"{where}.actor") or dimension(group, "actor_type", where)
    elif isinstance(raw, str):
        actor, kind = raw, dimension(group, "actor_type", where)
    else:
        raise MalformedResponse(
            f"expected a string or an object, got {type(raw).__name__}", field=f"{where}.actor"
        )
    if kind == ACTOR_USER:
        return actor, ""
    if kind == ACTOR_SERVICE_ACCOUNT:
        return "", actor
    if not kind:
        raise MalformedResponse("an actor without actor_type", field=f"{where}.actor_type")
    log.warning("Anthropic analytics: unknown actor_type %s; its split is not kept", show(kind))
    return "", ""


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
