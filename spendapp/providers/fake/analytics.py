"""Anthropic's Usage and Cost Analytics API (beta), served from the same fake organisation.

``GET /v1/organizations/analytics/usage`` and ``GET /v1/organizations/analytics/cost`` with
``anthropic-beta: analytics-usage-cost-2026-08-24``. Rows are flat: ``starting_at``,
``ending_at``, ``group`` (every dimension of ``group_by[]``, null when not grouped) and
``usage`` or ``cost``; ``limit`` counts rows (1-1000, default 20) and ``page`` is the opaque
``next_page`` of the previous answer, valid for the same query only.

The numbers are the legacy reports' numbers: usage from the same hourly arrays, costs from the
same cost cells (exact integer sums of 1e-7 dollar quanta, formatted in cents), so a sync from
here equals ``truth`` to the cent. What this fake decides where the reference is silent:

* ``actor``: the service account of service-account usage (``actor_type: service_account``),
  else the user who created the API key (``actor_type: user``); Workbench usage (no key) has
  none. ``actor`` is the id string.
* ``requests``: 0 (the fake organisation counts no Anthropic requests; ``truth`` neither).
* ``list_amount``: the amount at list price, rounded half-even to 1e-5 cents.
* Who may read it: the analytics key (``DEFAULT_ANTHROPIC_ANALYTICS_KEY``); the ordinary admin
  key gets 403 ``permission_error``, and every key 404 ``not_found_error`` on a server started
  with ``refuse_analytics`` (``--refuse-analytics``), as for an organisation without the beta.
"""

from __future__ import annotations

import hashlib
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from .api import (
    WIDTHS,
    ApiError,
    Cursor,
    Request,
    aggregate,
    an_err,
    cents_string,
    check_params,
    parse_limit,
    parse_rfc3339,
    single,
    usage_matrix,
)
from .org import AN, DAY, DISCOUNT_PCT, HOUR, iso

if TYPE_CHECKING:
    from .org import Organisation, ProviderData

ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
USAGE_PATH = "/v1/organizations/analytics/usage"
COST_PATH = "/v1/organizations/analytics/cost"
MAX_RANGE = 31 * DAY
MAX_RANGE_1M = DAY
LIMITS = (20, 1000)
# Dimensions the reference lists; the ones the fake organisation has no notion of
# (agents, products, Slack, RBAC groups, ...) are accepted and answered null.
USAGE_GROUPS = [
    "actor",
    "actor_type",
    "agent_id",
    "api_key_id",
    "claude_tag_category",
    "claude_tag_user_id",
    "context_window",
    "deployment_id",
    "environment_id",
    "inference_geo",
    "model",
    "product",
    "rbac_group_id",
    "service_tier",
    "session_id",
    "slack_channel_id",
    "speed",
    "user_profile_id",
    "workspace_id",
]
COST_GROUPS = [*USAGE_GROUPS, "cost_type", "token_type"]
FILTERS = {
    "models[]": "model",
    "api_key_ids[]": "api_key_id",
    "workspace_ids[]": "workspace_id",
    "service_tiers[]": "service_tier",
    "context_windows[]": "context_window",
    "inference_geos[]": "inference_geo",
    "speeds[]": "speed",
    "actor_ids[]": "actor",
    "actor_types[]": "actor_type",
}
BASE_PARAMS = {"starting_at", "ending_at", "time_bucket_width", "group_by[]", "limit", "page"}


def refused(status: int) -> ApiError:
    if status == 404:
        return ApiError(404, "Not found", etype="not_found_error")
    return ApiError(
        403,
        "This API key does not have access to the Usage and Cost Analytics API.",
        etype="permission_error",
    )


class AnalyticsApi:
    def __init__(self, org: Organisation, cursor: Cursor):
        self.org = org
        self.cursor = cursor
        creators = {k["id"]: k["created_by"]["id"] for k in org.an_keys}
        self._actor = []
        for se in org.an_series:
            if se.service_account_id:
                self._actor.append((se.service_account_id, "service_account"))
            elif se.api_key_id and se.api_key_id in creators:
                self._actor.append((creators[se.api_key_id], "user"))
            else:
                self._actor.append((None, None))

    # -- shared ---------------------------------------------------------------------------------

    def _check(self, req: Request, groups: list[str]) -> list[str]:
        check_params(req, BASE_PARAMS | set(FILTERS), an_err)
        betas = ",".join(req.headers.get_all("anthropic-beta") or [])
        if ANALYTICS_BETA not in betas:
            raise an_err(
                None,
                f"This endpoint requires the anthropic-beta header '{ANALYTICS_BETA}'.",
            )
        out: list[str] = []
        for v in req.query.get("group_by[]", []):
            if v not in groups:
                raise an_err(
                    "group_by[]",
                    f"group_by.{len(out)}: Input should be " + ", ".join(f"'{g}'" for g in groups),
                )
            if v not in out:
                out.append(v)
        return out

    def _range(self, req: Request) -> tuple[list[int], int, int, int]:
        raw = single(req, "starting_at", an_err)
        if raw is None:
            raise an_err("starting_at", "starting_at: Field required")
        start = parse_rfc3339(raw, "starting_at")
        now = self.org.end_ts
        end_raw = single(req, "ending_at", an_err)
        width_name = single(req, "time_bucket_width", an_err)
        if width_name is not None and width_name not in WIDTHS:
            raise an_err("time_bucket_width", "time_bucket_width: Input should be 1d, 1h or 1m")
        if end_raw is None:
            if width_name is not None:
                raise an_err("ending_at", "ending_at is required when time_bucket_width is set")
            end = min(now, start + MAX_RANGE)
        else:
            end = parse_rfc3339(end_raw, "ending_at")
        if end <= start:
            raise an_err("ending_at", "ending_at must be after starting_at")
        if end - start > (MAX_RANGE_1M if width_name == "1m" else MAX_RANGE):
            raise an_err("ending_at", "the range is longer than the maximum for this bucket width")
        limit = parse_limit(single(req, "limit", an_err), *LIMITS, an_err)
        if width_name is None:  # one row per group over the whole range, in whole hours
            first, last = start - start % HOUR, min(end, now)
            last -= last % HOUR
            return ([first] if last > first else []), max(last - first, HOUR), limit, end
        width = WIDTHS[width_name]
        b, starts = start - start % width, []
        while b < now and b + width <= end:
            starts.append(b)
            b += width
        return starts, width, limit, end

    def _page(self, kind: str, req: Request, rows: list[dict], limit: int) -> dict:
        query = sorted((k, tuple(v)) for k, v in req.query.items() if k != "page")
        scope = f"anthropic.analytics.{kind}:" + hashlib.sha256(repr(query).encode()).hexdigest()
        token = single(req, "page", an_err)
        offset = self.cursor.read(scope, token, an_err) if token else 0
        if offset > len(rows):
            raise an_err("page", f"Invalid page cursor: {token!r}")
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        next_page = self.cursor.make(scope, offset + limit) if more else None
        return {"data": page, "has_more": more, "next_page": next_page}

    def _dim(self, si: int, d: str) -> Any:
        se = self.org.an_series[si]
        if d == "workspace_id":
            return se.project_id
        if d == "actor":
            return self._actor[si][0]
        if d == "actor_type":
            return self._actor[si][1]
        if d in ("api_key_id", "model", "service_tier", "context_window", "inference_geo", "speed"):
            return getattr(se, d)
        return None

    def _selected(self, req: Request) -> list[int]:
        sel = []
        for si in range(len(self.org.an_series)):
            if all(
                f not in req.query or self._dim(si, d) in set(req.query[f])
                for f, d in FILTERS.items()
            ):
                sel.append(si)
        return sel

    # -- endpoints ------------------------------------------------------------------------------

    def usage(self, req: Request, data: ProviderData):
        group_by = self._check(req, USAGE_GROUPS)
        starts, width, limit, _ = self._range(req)
        sel = self._selected(req)
        mat = usage_matrix(self.org, data, np.array(sel, dtype=np.int64), starts, width)
        keys = [tuple(self._dim(si, d) for d in group_by) for si in sel]
        uniq, agg = aggregate(mat, keys)
        rows = []
        for bi, b in enumerate(starts):
            for gi, key in enumerate(uniq):
                v = agg[gi, bi]
                if not v[1:].any():
                    continue
                group = dict.fromkeys(USAGE_GROUPS)
                group.update(zip(group_by, key, strict=True))
                rows.append(
                    {
                        "starting_at": iso(b),
                        "ending_at": iso(b + width),
                        "group": group,
                        "usage": {
                            "uncached_input_tokens": int(v[AN["uncached"]]),
                            "cache_creation": {
                                "ephemeral_5m_input_tokens": int(v[AN["cw5m"]]),
                                "ephemeral_1h_input_tokens": int(v[AN["cw1h"]]),
                            },
                            "cache_read_input_tokens": int(v[AN["cache_read"]]),
                            "output_tokens": int(v[AN["output"]]),
                            "requests": 0,
                            "server_tool_use": {"web_search_requests": int(v[AN["web_search"]])},
                        },
                    }
                )
        return 200, self._page("usage", req, rows, limit)

    def cost(self, req: Request, data: ProviderData):
        group_by = self._check(req, COST_GROUPS)
        starts, width, limit, _ = self._range(req)
        if width % DAY and starts:
            raise an_err("time_bucket_width", "the fake's costs are daily: use '1d'")
        cells = data.costs
        cols = []
        for b in starts:
            first = b // DAY - self.org.day0
            cols.append([first + k for k in range(width // DAY)])
        amounts = np.zeros((len(cells.dims), len(starts)), dtype=np.int64)
        for bi, days in enumerate(cols):
            for d in days:
                if 0 <= d < self.org.n_days:
                    amounts[:, bi] += cells.amounts[:, d]
        # The fake's cost cells are not split by key or actor: such a filter matches nothing.
        unsplit = {"actor_ids[]", "actor_types[]", "api_key_ids[]"} & set(req.query)
        keep = [
            ci
            for ci, dim in enumerate(cells.dims)
            if not unsplit
            and all(
                f not in req.query or dim.get(d) in set(req.query[f])
                for f, d in FILTERS.items()
                if f not in ("actor_ids[]", "actor_types[]", "api_key_ids[]")
            )
        ]
        keys = [tuple(cells.dims[ci].get(d) for d in group_by) for ci in keep]
        uniq, agg = aggregate(amounts[keep], keys)
        disc = Decimal(DISCOUNT_PCT["anthropic"])
        rows = []
        for bi, b in enumerate(starts):
            for gi, key in enumerate(uniq):
                units = int(agg[gi, bi])
                if units == 0:
                    continue
                group = dict.fromkeys(COST_GROUPS)
                group.update(zip(group_by, key, strict=True))
                listed = (Decimal(cents_string(units)) * 100 / disc).quantize(
                    Decimal("0.00001"), rounding=ROUND_HALF_EVEN
                )
                rows.append(
                    {
                        "starting_at": iso(b),
                        "ending_at": iso(b + width),
                        "group": group,
                        "cost": {
                            "amount": cents_string(units),
                            "currency": "USD",
                            "list_amount": format(listed.normalize(), "f"),
                            "requests": None if {"cost_type", "token_type"} & set(group_by) else 0,
                        },
                    }
                )
        return 200, self._page("cost", req, rows, limit)
