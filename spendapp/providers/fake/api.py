"""Request handling for the fake OpenAI and Anthropic admin APIs.

Size (~900 lines): two providers' documented endpoints, their validation and paging, side by
side so a reader compares the two shapes; a new provider gets its own module.

Handlers take a parsed :class:`Request` and the current data, and return ``(status, body,
headers)`` with ``body`` a JSON-serialisable object, or raise :class:`ApiError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from . import claude_code
from .org import (
    AN,
    AN_CENT_DECIMALS,
    DAY,
    HOUR,
    OA,
    OA_DECIMALS,
    CostCells,
    Organisation,
    ProviderData,
    iso,
)

if TYPE_CHECKING:
    from collections.abc import Callable

WIDTHS = {"1m": 60, "1h": HOUR, "1d": DAY}
# width -> (default limit, max limit), the same for both providers' usage endpoints
USAGE_LIMITS = {"1d": (7, 31), "1h": (24, 168), "1m": (60, 1440)}
OPENAI_COST_LIMITS = (7, 180)
ANTHROPIC_COST_LIMITS = (7, 31)
ANTHROPIC_VERSIONS = {"2023-06-01", "2023-01-01"}
ANTHROPIC_FAST_BETA = "fast-mode-2026-02-01"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        etype: str | None = None,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.etype = etype
        self.param = param
        self.code = code
        self.headers = headers or {}


def openai_error_body(err: ApiError) -> dict:
    return {
        "error": {
            "message": err.message,
            "type": err.etype or "invalid_request_error",
            "param": err.param,
            "code": err.code,
        }
    }


def anthropic_error_body(err: ApiError, request_id: str) -> dict:
    default = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        405: "invalid_request_error",
        429: "rate_limit_error",
        500: "api_error",
        504: "timeout_error",
        529: "overloaded_error",
    }.get(err.status, "api_error")
    return {
        "type": "error",
        "error": {"type": err.etype or default, "message": err.message},
        "request_id": request_id,
    }


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # case-insensitive mapping (email.message.Message)


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------


class Cursor:
    """Opaque, signed page cursors: base64(position + HMAC prefix)."""

    def __init__(self, seed: int):
        self.secret = hashlib.sha256(f"spendapp-fake-cursor-{seed}".encode()).digest()

    def _sig(self, kind: str, pos: int) -> bytes:
        return hmac.new(self.secret, f"{kind}:{pos}".encode(), hashlib.sha256).digest()[:10]

    def make(self, kind: str, pos: int) -> str:
        raw = struct.pack(">q", pos) + self._sig(kind, pos)
        token = base64.urlsafe_b64encode(raw).decode()
        return f"page_{token}" if kind.startswith("openai") else token

    def read(self, kind: str, token: str, err: Callable[[str, str], ApiError]) -> int:
        text = token[5:] if kind.startswith("openai") and token.startswith("page_") else token
        try:
            raw = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
        except (ValueError, TypeError):
            raw = b""
        if len(raw) != 18:
            raise err("page", f"Invalid page cursor: {token!r}")
        (pos,) = struct.unpack(">q", raw[:8])
        if not hmac.compare_digest(raw[8:], self._sig(kind, pos)):
            raise err("page", f"Invalid page cursor: {token!r}")
        return pos


def check_params(req: Request, allowed: set[str], err: Callable[[str, str], ApiError]) -> None:
    for name in req.query:
        if name not in allowed:
            raise err(name, f"Unrecognized request argument supplied: {name}")


def single(req: Request, name: str, err: Callable[[str, str], ApiError]) -> str | None:
    values = req.query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise err(name, f"Parameter '{name}' was given more than once.")
    return values[0]


def parse_int(text: str | None, name: str, err) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip(), 10)
    except ValueError:
        raise err(name, f"Invalid value for '{name}': expected an integer, got {text!r}.") from None
    if abs(value) > 2**62:
        raise err(name, f"Invalid value for '{name}': out of range.")
    return value


def parse_bool(text: str | None, name: str, err) -> bool | None:
    if text is None:
        return None
    low = text.strip().lower()
    if low in ("true", "1"):
        return True
    if low in ("false", "0"):
        return False
    raise err(name, f"Invalid value for '{name}': expected a boolean, got {text!r}.")


def parse_limit(text: str | None, default: int, maximum: int, err, *, minimum: int = 1) -> int:
    value = parse_int(text, "limit", err)
    if value is None:
        return default
    if value < minimum or value > maximum:
        raise err("limit", f"Invalid value for 'limit': must be between {minimum} and {maximum}.")
    return value


def plan_buckets(first: int, width: int, limit: int, ok: Callable[[int], bool]):
    starts = []
    b = first
    while len(starts) < limit and ok(b):
        starts.append(b)
        b += width
    return starts, (b if ok(b) else None)


def _mix(values: np.ndarray) -> np.ndarray:
    x = values.astype(np.uint64)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def usage_matrix(
    org: Organisation, data: ProviderData, sel: np.ndarray, starts: list[int], width: int
) -> np.ndarray:
    """Measures of the selected series for each bucket: int64 (S, B, M)."""
    n_h = org.n_hours
    n_m = data.hourly.shape[2]
    if not starts or len(sel) == 0:
        return np.zeros((len(sel), len(starts), n_m), dtype=np.int64)
    if width in (HOUR, DAY):

        def hour_index(ts: int) -> int:
            return min(max((ts - org.start_ts) // HOUR, 0), n_h)

        lo = np.array([hour_index(b) for b in starts])
        hi = np.array([hour_index(b + width) for b in starts])
        cum = data.cum[sel]
        return cum[:, hi, :] - cum[:, lo, :]
    # 1m: split each hour deterministically; requests first, the other measures follow them.
    out = np.zeros((len(sel), len(starts), n_m), dtype=np.int64)
    pos = [((b - org.start_ts) // HOUR, ((b - org.start_ts) % HOUR) // 60) for b in starts]
    hours = sorted({h for h, _ in pos if 0 <= h < n_h})
    if not hours:
        return out
    hv = data.hourly[sel][:, hours, :]  # (S, nh, M)
    abs_hours = np.array(hours, dtype=np.int64) + org.start_ts // HOUR
    grid = abs_hours[:, None] * 64 + np.arange(60)[None, :] + org.seed * 1_000_003
    w = (_mix(grid) % np.uint64(97)).astype(np.int64) + 4  # (nh, 60)
    wc = np.zeros((len(hours), 61), dtype=np.int64)
    np.cumsum(w, axis=1, out=wc[:, 1:])
    req = hv[:, :, 0]
    creq = req[:, :, None] * wc[None, :, :] // wc[None, :, -1:]  # (S, nh, 61)
    cm = np.empty((*creq.shape, n_m), dtype=np.int64)
    cm[..., 0] = creq
    safe = np.maximum(req, 1)[:, :, None]
    for j in range(1, n_m):
        cm[..., j] = hv[:, :, None, j] * creq // safe
    minutes = np.diff(cm, axis=2)  # (S, nh, 60, M)
    where = {h: i for i, h in enumerate(hours)}
    for bi, (h, m) in enumerate(pos):
        if h in where:
            out[:, bi, :] = minutes[:, where[h], m, :]
    return out


def group_rows(keys: list[tuple]) -> tuple[list[tuple], np.ndarray]:
    uniq = sorted(set(keys), key=lambda k: tuple((v is None, str(v)) for v in k))
    index = {k: i for i, k in enumerate(uniq)}
    return uniq, np.array([index[k] for k in keys], dtype=np.int64)


def aggregate(mat: np.ndarray, keys: list[tuple]) -> tuple[list[tuple], np.ndarray]:
    uniq, idx = group_rows(keys)
    agg = np.zeros((len(uniq), *mat.shape[1:]), dtype=np.int64)
    if len(idx):
        np.add.at(agg, idx, mat)
    return uniq, agg


def variant(*parts: object) -> int:
    return zlib.crc32(repr(parts).encode())


def cents_string(units: int) -> str:
    """1e-7 dollar units -> decimal string in cents, at most 5 decimals, no exponent."""
    value = Decimal(int(units)).scaleb(-AN_CENT_DECIMALS).normalize()
    return format(value, "f")


def dollars_number(units: int) -> float:
    """Micro-dollars -> a float whose shortest repr is exactly the 6-decimal value."""
    return float(Decimal(int(units)).scaleb(-OA_DECIMALS))


# ---------------------------------------------------------------------------------------------
# OpenAI
# ---------------------------------------------------------------------------------------------

OPENAI_USAGE = {
    # kind: (result object, group_by values, filters(array), measure)
    "completions": (
        "organization.usage.completions.result",
        ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier", "api_source"],
        ["project_ids", "user_ids", "api_key_ids", "models"],
    ),
    "embeddings": (
        "organization.usage.embeddings.result",
        ["project_id", "user_id", "api_key_id", "model"],
        ["project_ids", "user_ids", "api_key_ids", "models"],
    ),
    "moderations": (
        "organization.usage.moderations.result",
        ["project_id", "user_id", "api_key_id", "model"],
        ["project_ids", "user_ids", "api_key_ids", "models"],
    ),
    "images": (
        "organization.usage.images.result",
        ["project_id", "user_id", "api_key_id", "model", "size", "source"],
        ["project_ids", "user_ids", "api_key_ids", "models", "sources", "sizes"],
    ),
    "audio_speeches": (
        "organization.usage.audio_speeches.result",
        ["project_id", "user_id", "api_key_id", "model"],
        ["project_ids", "user_ids", "api_key_ids", "models"],
    ),
    "audio_transcriptions": (
        "organization.usage.audio_transcriptions.result",
        ["project_id", "user_id", "api_key_id", "model"],
        ["project_ids", "user_ids", "api_key_ids", "models"],
    ),
    "vector_stores": ("organization.usage.vector_stores.result", ["project_id"], ["project_ids"]),
    "code_interpreter_sessions": (
        "organization.usage.code_interpreter_sessions.result",
        ["project_id"],
        ["project_ids"],
    ),
    "file_search_calls": (
        "organization.usage.file_searches.result",
        ["project_id", "user_id", "api_key_id", "vector_store_id"],
        ["project_ids", "user_ids", "api_key_ids", "vector_store_ids"],
    ),
    "web_search_calls": (
        "organization.usage.web_searches.result",
        ["project_id", "user_id", "api_key_id", "model", "context_level"],
        ["project_ids", "user_ids", "api_key_ids", "models", "context_levels"],
    ),
}


def oa_err(param: str | None, message: str) -> ApiError:
    return ApiError(400, message, param=param)


def _oa_time_params(req: Request, err) -> tuple[int, int | None]:
    raw = single(req, "start_time", err)
    if raw is None:
        raise err("start_time", "Missing required parameter: 'start_time'.")
    start = parse_int(raw, "start_time", err)
    if start < 0:
        raise err("start_time", "Invalid value for 'start_time': must be non-negative.")
    end = parse_int(single(req, "end_time", err), "end_time", err)
    if end is not None and end <= start:
        raise err("end_time", "Invalid value for 'end_time': must be greater than 'start_time'.")
    return start, end


def _oa_group_by(req: Request, allowed: list[str], err) -> list[str]:
    values = req.query.get("group_by", [])
    out: list[str] = []
    for v in values:
        for part in v.split(","):  # tolerate comma-joined values as well as repeated keys
            if part not in allowed:
                raise err(
                    "group_by",
                    f"Invalid value for 'group_by': {part!r}. Supported values are: "
                    + ", ".join(f"'{a}'" for a in allowed)
                    + ".",
                )
            if part not in out:
                out.append(part)
    return out


class OpenAIApi:
    def __init__(self, org: Organisation, cursor: Cursor):
        self.org = org
        self.cursor = cursor

    def _page(self, kind: str, req: Request, limits: tuple[int, int] | None, cost: bool):
        err = oa_err
        start, end = _oa_time_params(req, err)
        width_name = single(req, "bucket_width", err) or "1d"
        if cost and width_name != "1d":
            raise err(
                "bucket_width",
                f"Invalid value for 'bucket_width': {width_name!r}. Only '1d' is supported.",
            )
        if width_name not in WIDTHS:
            raise err(
                "bucket_width",
                f"Invalid value for 'bucket_width': {width_name!r}. "
                "Supported values are: '1m', '1h', '1d'.",
            )
        width = WIDTHS[width_name]
        default, maximum = limits or USAGE_LIMITS[width_name]
        limit = parse_limit(single(req, "limit", err), default, maximum, err)
        first = start - start % width
        page = single(req, "page", err)
        if page is not None:
            pos = self.cursor.read(f"openai.{kind}", page, err)
            if pos < first or (pos - first) % width:
                raise err("page", f"Invalid page cursor: {page!r}")
            first = pos
        now = self.org.end_ts

        def ok(b: int) -> bool:
            return b < now and (end is None or b < end)

        starts, nxt = plan_buckets(first, width, limit, ok)
        next_page = None if nxt is None else self.cursor.make(f"openai.{kind}", nxt)
        return starts, width, next_page

    @staticmethod
    def _filter(req: Request, names: list[str]) -> dict[str, set[str]]:
        return {n: set(req.query[n]) for n in names if n in req.query}

    def usage(self, kind: str, req: Request, data: ProviderData):
        obj, dims, filters = OPENAI_USAGE[kind]
        extra = {"batch"} if kind == "completions" else set()
        allowed = {"start_time", "end_time", "bucket_width", "limit", "page", "group_by"}
        check_params(req, allowed | set(filters) | extra, oa_err)
        group_by = _oa_group_by(req, dims, oa_err)
        batch = parse_bool(single(req, "batch", oa_err), "batch", oa_err) if extra else None
        starts, width, next_page = self._page(kind, req, None, cost=False)
        flt = self._filter(req, filters)
        buckets = [
            {"object": "bucket", "start_time": b, "end_time": b + width, "results": []}
            for b in starts
        ]
        if kind in ("completions", "web_search_calls"):
            attr = {
                "project_ids": "project_id",
                "user_ids": "user_id",
                "api_key_ids": "api_key_id",
                "models": "model",
            }
            sel = []
            for i, se in enumerate(data.series):
                if batch is not None and se.batch != batch:
                    continue
                if kind == "web_search_calls" and not se.web_per_req:
                    continue
                if "context_levels" in flt and "medium" not in flt["context_levels"]:
                    continue
                if all(getattr(se, attr[f]) in vals for f, vals in flt.items() if f in attr):
                    sel.append(i)
            sel_arr = np.array(sel, dtype=np.int64)
            mat = usage_matrix(self.org, data, sel_arr, starts, width)

            def dim_value(se, d):
                return "medium" if d == "context_level" else getattr(se, d)

            keys = [tuple(dim_value(data.series[i], d) for d in group_by) for i in sel]
            uniq, agg = aggregate(mat, keys)
            for bi, b in enumerate(starts):
                for gi, key in enumerate(uniq):
                    v = agg[gi, bi]
                    if kind == "completions" and v[OA["requests"]] == 0:
                        continue
                    if kind == "web_search_calls" and v[OA["web_search"]] == 0:
                        continue
                    dvals = dict(zip(group_by, key, strict=True))
                    tag = variant(b, width, key, tuple(group_by))
                    if kind == "completions":
                        res = _oa_completions_result(v, dvals, tag)
                    else:
                        res = {
                            "object": obj,
                            "num_model_requests": int(v[OA["web_search"]]),
                            "num_requests": int(v[OA["web_search"]]),
                        }
                        for d in dims:
                            res[d] = dvals.get(d)
                    buckets[bi]["results"].append(res)
        return 200, {
            "object": "page",
            "data": buckets,
            "has_more": next_page is not None,
            "next_page": next_page,
        }

    def costs(self, req: Request, data: ProviderData):
        dims = ["project_id", "line_item", "api_key_id"]
        allowed = {
            "start_time",
            "end_time",
            "bucket_width",
            "limit",
            "page",
            "group_by",
            "project_ids",
            "api_key_ids",
        }
        check_params(req, allowed, oa_err)
        group_by = _oa_group_by(req, dims, oa_err)
        starts, width, next_page = self._page("costs", req, OPENAI_COST_LIMITS, cost=True)
        cells: CostCells = data.costs
        pf = set(req.query["project_ids"]) if "project_ids" in req.query else None
        kf = set(req.query["api_key_ids"]) if "api_key_ids" in req.query else None
        sel = [
            ci
            for ci, d in enumerate(cells.dims)
            if (pf is None or d["project_id"] in pf) and (kf is None or d["api_key_id"] in kf)
        ]
        days = [b // DAY - self.org.day0 for b in starts]
        in_range = [0 <= d < self.org.n_days for d in days]
        dcol = np.array([d if ok else 0 for d, ok in zip(days, in_range, strict=True)], dtype=int)
        amounts = cells.amounts[sel][:, dcol] * np.array(in_range, dtype=np.int64)
        qty = cells.quantity[sel][:, dcol] * np.array(in_range, dtype=np.int64)
        keys = [tuple(cells.dims[ci][d] for d in group_by) for ci in sel]
        uniq, agg = aggregate(np.stack([amounts, qty], axis=-1), keys)
        # whether the line item (when grouped) is a token line with a quantity
        token_line = {cells.dims[ci]["line_item"]: cells.dims[ci]["token_line"] for ci in sel}
        buckets = []
        for bi, b in enumerate(starts):
            results = []
            for gi, key in enumerate(uniq):
                amount, quantity = int(agg[gi, bi, 0]), int(agg[gi, bi, 1])
                if amount == 0 and quantity == 0:
                    continue
                dvals = dict(zip(group_by, key, strict=True))
                res: dict[str, Any] = {
                    "object": "organization.costs.result",
                    "amount": {"value": dollars_number(amount), "currency": "usd"},
                    "line_item": dvals.get("line_item"),
                    "project_id": dvals.get("project_id"),
                    "api_key_id": dvals.get("api_key_id"),
                    "quantity": None,
                    "quantity_unit": None,
                }
                if "line_item" in dvals and token_line.get(dvals["line_item"]):
                    res["quantity"] = quantity
                    res["quantity_unit"] = "tokens"
                if variant(b, key, "x") % 9 == 4:
                    res["organization_id"] = "org-spendappfake"  # unknown extra field
                results.append(res)
            buckets.append(
                {"object": "bucket", "start_time": b, "end_time": b + width, "results": results}
            )
        return 200, {
            "object": "page",
            "data": buckets,
            "has_more": next_page is not None,
            "next_page": next_page,
        }

    # --- lists -------------------------------------------------------------------------------

    @staticmethod
    def _list(req: Request, items: list[dict], allowed: set[str]):
        check_params(req, allowed | {"limit", "after"}, oa_err)
        limit = parse_limit(single(req, "limit", oa_err), 20, 100, oa_err)
        after = single(req, "after", oa_err)
        if after is not None:
            ids = [x["id"] for x in items]
            if after not in ids:
                raise oa_err("after", f"Invalid value for 'after': no object with id {after!r}.")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return 200, {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }

    def projects(self, req: Request):
        inc = parse_bool(single(req, "include_archived", oa_err), "include_archived", oa_err)
        items = [p for p in self.org.oa_projects if inc or p["status"] == "active"]
        return self._list(req, [dict(p) for p in items], {"include_archived"})

    def project_api_keys(self, req: Request, project_id: str):
        if project_id not in {p["id"] for p in self.org.oa_projects}:
            raise ApiError(404, f"No such project: {project_id}", param="project_id")
        access = single(req, "owner_project_access", oa_err)
        if access is not None and access not in ("active", "inactive", "any"):
            raise oa_err("owner_project_access", "Invalid value for 'owner_project_access'.")
        items = [
            {k: v for k, v in key.items() if not k.startswith("_")}
            for key in self.org.oa_keys
            if key["_project"] == project_id and access != "inactive"
        ]
        return self._list(req, items, {"owner_project_access"})

    def users(self, req: Request):
        emails = set(req.query.get("emails", []))
        items = [dict(u) for u in self.org.oa_users if not emails or u["email"] in emails]
        return self._list(req, items, {"emails"})


def _oa_completions_result(v: np.ndarray, dims: dict, tag: int) -> dict:
    unc = int(v[OA["input_uncached"]])
    cached = int(v[OA["input_cached"]])
    out = int(v[OA["output"]])
    res: dict[str, Any] = {
        "object": "organization.usage.completions.result",
        "input_tokens": unc + cached,
        "output_tokens": out,
        "num_model_requests": int(v[OA["requests"]]),
        "input_cached_tokens": cached,
    }
    if tag % 5 == 1:  # the older, minimal field set
        res.update({"input_audio_tokens": 0, "output_audio_tokens": 0})
    else:
        res.update(
            {
                "input_cache_write_tokens": 0,
                "input_uncached_tokens": unc,
                "input_text_tokens": unc,
                "output_text_tokens": out,
                "input_cached_text_tokens": cached,
                "input_audio_tokens": 0,
                "input_cached_audio_tokens": 0,
                "output_audio_tokens": 0,
                "input_image_tokens": 0,
                "input_cached_image_tokens": 0,
                "output_image_tokens": 0,
            }
        )
    for d in ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier"):
        res[d] = dims.get(d)
    if "api_source" in dims:  # newer grouping: only answered when asked for
        res["api_source"] = dims["api_source"]
    if tag % 7 == 3:
        res["input_reasoning_cache_hint"] = None  # an unknown field from a future spec
    return res


# ---------------------------------------------------------------------------------------------
# Anthropic
# ---------------------------------------------------------------------------------------------

AN_USAGE_DIMS = [
    "api_key_id",
    "workspace_id",
    "model",
    "service_tier",
    "context_window",
    "inference_geo",
    "account_id",
    "service_account_id",
    "speed",
]
AN_USAGE_FILTERS = {
    "models[]": "model",
    "api_key_ids[]": "api_key_id",
    "workspace_ids[]": "workspace_id",
    "service_tiers[]": "service_tier",
    "context_window[]": "context_window",
    "inference_geos[]": "inference_geo",
    "account_ids[]": "account_id",
    "service_account_ids[]": "service_account_id",
    "speeds[]": "speed",
}
AN_ENUMS = {
    "service_tiers[]": {
        "standard",
        "batch",
        "priority",
        "priority_on_demand",
        "flex",
        "flex_discount",
    },
    "context_window[]": {"0-200k", "200k-1M"},
    "inference_geos[]": {"global", "us", "not_available"},
    "speeds[]": {"standard", "fast"},
}


def an_err(param: str | None, message: str) -> ApiError:
    del param
    return ApiError(400, message)


def parse_rfc3339(text: str, name: str) -> int:
    try:
        dt = datetime.fromisoformat(text.strip().replace("z", "Z"))
    except ValueError:
        raise an_err(name, f"{name}: invalid RFC 3339 timestamp {text!r}") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    try:
        return int(dt.timestamp())
    except (OverflowError, ValueError):
        raise an_err(name, f"{name}: timestamp out of range") from None


def _an_series_dim(se, d: str):
    if d == "workspace_id":
        return se.project_id
    if d == "account_id":
        return None
    return getattr(se, d)


class AnthropicApi:
    def __init__(self, org: Organisation, cursor: Cursor):
        self.org = org
        self.cursor = cursor

    def _page(self, kind: str, req: Request, limits: tuple[int, int] | None, cost: bool):
        raw = single(req, "starting_at", an_err)
        if raw is None:
            raise an_err("starting_at", "starting_at: Field required")
        start = parse_rfc3339(raw, "starting_at")
        end_raw = single(req, "ending_at", an_err)
        end = None if end_raw is None else parse_rfc3339(end_raw, "ending_at")
        if end is not None and end <= start:
            raise an_err("ending_at", "ending_at must be after starting_at")
        width_name = single(req, "bucket_width", an_err) or "1d"
        allowed = ["1d"] if cost else ["1m", "1h", "1d"]
        if width_name not in allowed:
            raise an_err(
                "bucket_width",
                f"bucket_width: Input should be {' or '.join(repr(a) for a in allowed)}",
            )
        width = WIDTHS[width_name]
        default, maximum = limits or USAGE_LIMITS[width_name]
        limit = parse_limit(single(req, "limit", an_err), default, maximum, an_err)
        first = start - start % width
        page = single(req, "page", an_err)
        if page is not None:
            pos = self.cursor.read(f"anthropic.{kind}", page, an_err)
            if pos < first or (pos - first) % width:
                raise an_err("page", f"Invalid page cursor: {page!r}")
            first = pos
        now = self.org.end_ts

        def ok(b: int) -> bool:
            return b < now and (end is None or b + width <= end)

        starts, nxt = plan_buckets(first, width, limit, ok)
        next_page = None if nxt is None else self.cursor.make(f"anthropic.{kind}", nxt)
        return starts, width, next_page

    @staticmethod
    def _group_by(req: Request, allowed: list[str]) -> list[str]:
        out: list[str] = []
        for v in req.query.get("group_by[]", []):
            if v not in allowed:
                raise an_err(
                    "group_by[]",
                    f"group_by.{len(out)}: Input should be " + ", ".join(f"'{a}'" for a in allowed),
                )
            if v not in out:
                out.append(v)
        return out

    def messages(self, req: Request, data: ProviderData):
        allowed = {"starting_at", "ending_at", "bucket_width", "limit", "page", "group_by[]"}
        check_params(req, allowed | set(AN_USAGE_FILTERS), an_err)
        group_by = self._group_by(req, AN_USAGE_DIMS)
        betas = ",".join(req.headers.get_all("anthropic-beta") or [])
        uses_speed = "speed" in group_by or "speeds[]" in req.query
        if uses_speed and ANTHROPIC_FAST_BETA not in betas:
            raise an_err(
                "group_by[]",
                f"The 'speed' dimension requires the anthropic-beta header "
                f"'{ANTHROPIC_FAST_BETA}'.",
            )
        for name, values in AN_ENUMS.items():
            for v in req.query.get(name, []):
                if v not in values:
                    raise an_err(name, f"{name}: invalid value {v!r}")
        starts, width, next_page = self._page("usage.messages", req, None, cost=False)
        sel = []
        for i, se in enumerate(data.series):
            keep = True
            for f, d in AN_USAGE_FILTERS.items():
                if f in req.query and _an_series_dim(se, d) not in set(req.query[f]):
                    keep = False
            if keep:
                sel.append(i)
        mat = usage_matrix(self.org, data, np.array(sel, dtype=np.int64), starts, width)
        keys = [tuple(_an_series_dim(data.series[i], d) for d in group_by) for i in sel]
        uniq, agg = aggregate(mat, keys)
        buckets = []
        base_dims = ["model", "workspace_id", "api_key_id", "service_tier", "context_window"]
        for bi, b in enumerate(starts):
            results = []
            for gi, key in enumerate(uniq):
                v = agg[gi, bi]
                if not v[1:].any():
                    continue
                dvals = dict(zip(group_by, key, strict=True))
                res: dict[str, Any] = {
                    "uncached_input_tokens": int(v[AN["uncached"]]),
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": int(v[AN["cw5m"]]),
                        "ephemeral_1h_input_tokens": int(v[AN["cw1h"]]),
                    },
                    "cache_read_input_tokens": int(v[AN["cache_read"]]),
                    "output_tokens": int(v[AN["output"]]),
                    "server_tool_use": {"web_search_requests": int(v[AN["web_search"]])},
                }
                for d in base_dims:
                    res[d] = dvals.get(d)
                for d in AN_USAGE_DIMS:
                    if d not in base_dims and d in dvals:
                        res[d] = dvals[d]
                if variant(b, width, key, tuple(group_by)) % 3 == 0:
                    res["output_tokens_details"] = {"thinking_tokens": None}  # unknown field
                results.append(res)
            buckets.append({"starting_at": iso(b), "ending_at": iso(b + width), "results": results})
        return 200, {"data": buckets, "has_more": next_page is not None, "next_page": next_page}

    def cost_report(self, req: Request, data: ProviderData):
        allowed = {"starting_at", "ending_at", "bucket_width", "limit", "page", "group_by[]"}
        check_params(req, allowed, an_err)
        group_by = self._group_by(req, ["workspace_id", "description"])
        starts, width, next_page = self._page("cost_report", req, ANTHROPIC_COST_LIMITS, True)
        cells = data.costs
        days = [b // DAY - self.org.day0 for b in starts]
        in_range = np.array([0 <= d < self.org.n_days for d in days], dtype=np.int64)
        dcol = np.array([d if 0 <= d < self.org.n_days else 0 for d in days], dtype=int)
        amounts = cells.amounts[:, dcol] * in_range
        keys = [tuple(dim[d] for d in group_by) for dim in cells.dims]
        uniq, agg = aggregate(amounts, keys)
        by_description = {dim["description"]: dim for dim in cells.dims}
        buckets = []
        for bi, b in enumerate(starts):
            results = []
            for gi, key in enumerate(uniq):
                amount = int(agg[gi, bi])
                if amount == 0:
                    continue
                dvals = dict(zip(group_by, key, strict=True))
                desc = dvals.get("description")
                dim = by_description.get(desc, {}) if desc else {}
                results.append(
                    {
                        "amount": cents_string(amount),
                        "currency": "USD",
                        "workspace_id": dvals.get("workspace_id"),
                        "description": desc,
                        "cost_type": dim.get("cost_type"),
                        "model": dim.get("model"),
                        "service_tier": dim.get("service_tier"),
                        "token_type": dim.get("token_type"),
                        "context_window": dim.get("context_window"),
                    }
                )
            buckets.append({"starting_at": iso(b), "ending_at": iso(b + width), "results": results})
        return 200, {"data": buckets, "has_more": next_page is not None, "next_page": next_page}

    def claude_code(self, req: Request):
        check_params(req, {"starting_at", "limit", "page"}, an_err)
        text = single(req, "starting_at", an_err)
        if text is None:
            raise an_err("starting_at", "starting_at: Field required")
        try:
            day = date.fromisoformat(text).toordinal() - date(1970, 1, 1).toordinal()
        except ValueError:
            raise an_err("starting_at", f"starting_at: expected a date, got {text!r}") from None
        limit = parse_limit(single(req, "limit", an_err), 20, 1000, an_err)
        token = single(req, "page", an_err)
        position = self.cursor.read("claude_code", token, an_err) if token else 0
        records = []
        if self.org.day0 <= day < self.org.day0 + self.org.n_days:
            records = claude_code.records_of_day(self.org.seed, day, text, "org_fake")
        data, nxt = claude_code.page(records, position, limit)
        cursor = self.cursor.make("claude_code", nxt) if nxt is not None else None
        return 200, claude_code.response(data, cursor)

    @staticmethod
    def _list(req: Request, items: list[dict], allowed: set[str]):
        check_params(req, allowed | {"limit", "after_id", "before_id"}, an_err)
        limit = parse_limit(single(req, "limit", an_err), 20, 1000, an_err)
        after = single(req, "after_id", an_err)
        before = single(req, "before_id", an_err)
        ids = [x["id"] for x in items]
        if after is not None and before is not None:
            raise an_err("after_id", "Cannot specify both after_id and before_id")
        if after is not None:
            if after not in ids:
                raise ApiError(404, f"after_id {after!r} not found")
            items = items[ids.index(after) + 1 :]
            page = items[:limit]
            more = len(items) > limit
        elif before is not None:
            if before not in ids:
                raise ApiError(404, f"before_id {before!r} not found")
            items = items[: ids.index(before)]
            page = items[-limit:]
            more = len(items) > limit
        else:
            page = items[:limit]
            more = len(items) > limit
        return 200, {
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": more,
        }

    def workspaces(self, req: Request):
        parse_bool(single(req, "include_archived", an_err), "include_archived", an_err)
        return self._list(req, [dict(w) for w in self.org.an_workspaces], {"include_archived"})

    def api_keys(self, req: Request):
        status = single(req, "status", an_err)
        if status is not None and status not in ("active", "inactive", "archived", "expired"):
            raise an_err("status", f"status: invalid value {status!r}")
        ws = single(req, "workspace_id", an_err)
        creator = single(req, "created_by_user_id", an_err)
        items = [
            dict(k)
            for k in self.org.an_keys
            if (status is None or k["status"] == status)
            and (ws is None or k["workspace_id"] == ws)
            and (creator is None or k["created_by"]["id"] == creator)
        ]
        return self._list(req, items, {"status", "workspace_id", "created_by_user_id"})
