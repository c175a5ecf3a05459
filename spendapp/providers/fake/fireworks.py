"""Fake Fireworks AI: billing usage and the billing summary, as Fireworks' API reference
describes them (see docs/providers/fireworks.md for the pages and what is ours).

Base URL ``http://HOST:PORT/fireworks`` (``Authorization: Bearer <API key>``), account
``spendapp-demo``:

* ``GET /v1/accounts/{id}/billingUsage?startTime=&endTime=[&usageType=][&timezone=]
  [&groupBy=...]``: ``serverlessCosts`` rows per UTC day and requested dimensions
  (``model_name``, ``api_key_id``, ``api_key_name``, ``annotations.team``/``project``/
  ``environment``), token counts as int64 strings, values in the ``group`` map; at most 31
  days, UTC only (the fake's limit);
* ``GET /v1/accounts/{id}/billing/summary?startTime=&endTime=``: rated ``lineItems`` for the
  dates ``[start, end)``, one per model and token type, money as ``{currencyCode, units,
  nanos}``.

Usage exists for completed UTC days before the data end. Prices are whole nano-dollars per
token, so a cost is an exact integer of nanos and the truth's ``billed_cost`` is the exact sum
of what the summary emits. Errors are grpc-gateway bodies ``{"code", "message", "details"}``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from .api import ApiError, Request, check_params, single
from .org import DAY, day_str, iso, parse_end

PREFIX = "/fireworks"
ACCOUNT_ID = "spendapp-demo"
DEFAULT_KEY = "fw_spendapp_demo_fireworks_key_0123456789"
MAX_RANGE_DAYS = 31
NANOS = 10**9

# model, prompt and completion price in nano-dollars per token ($/1M x 1000), weight
MODELS = [
    ("accounts/fireworks/models/llama-v3p3-70b-instruct", 900, 900, 1.0),
    ("accounts/fireworks/models/deepseek-v3p1", 560, 1680, 0.8),
    ("accounts/fireworks/models/qwen3-235b-a22b", 220, 880, 0.6),
    ("accounts/fireworks/models/gpt-oss-120b", 150, 600, 1.2),
]
# API key name, weight
KEYS = [("prod-chat", 1.0), ("batch-evals", 0.6), ("notebooks", 0.2)]
# annotation tags (team, project, environment); "" = the request carried no such tag
TAGS = [
    ("search", "ranker", "prod"),
    ("support", "assistant", "prod"),
    ("support", "assistant", "staging"),
    ("", "", ""),
]
TAG_DIMENSIONS = ("annotations.team", "annotations.project", "annotations.environment")
SERVERLESS_DIMENSIONS = {"model_name", "api_key_id", "api_key_name", *TAG_DIMENSIONS}
OTHER_DIMENSIONS = {"deployment_name", "accelerator_type", "job_id", "job_type", "base_model"}
USAGE_TYPES = {"USAGE_TYPE_UNSPECIFIED", "SERVERLESS", "DEDICATED_DEPLOYMENT", "TRAINING"}
_PATH = re.compile(r"^/v1/accounts/([^/]+)/(billingUsage|billing/summary)$")
_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 429: 8, 500: 13, 503: 14, 504: 4}


def _key_id(seed: int, i: int) -> str:
    return hashlib.sha256(f"spendapp-fake-fireworks-{seed}-{i}".encode()).hexdigest()[:20]


@dataclass
class Cells:
    """Generated usage: one row per (day, key, model, tag) with tokens > 0."""

    day: np.ndarray  # int64 day index (days since 1970-01-01)
    key: np.ndarray
    model: np.ndarray
    tag: np.ndarray
    values: np.ndarray  # (N, 2): prompt tokens, completion tokens


class FireworksFake:
    provider = "fireworks"
    prefix = PREFIX

    def __init__(self, seed: int, days: int, end: object, key: str = DEFAULT_KEY):
        self.seed = seed
        self.key = key
        self.account_id = ACCOUNT_ID
        end_ts = parse_end(end)
        self.end_day = end_ts // DAY  # the day holding the data end: not completed yet
        first = (end_ts - days * DAY) // DAY
        self.days = list(range(first, self.end_day))
        self.key_ids = [_key_id(seed, i) for i in range(len(KEYS))]
        self._cells = {False: self._generate(), True: None}

    # --- data --------------------------------------------------------------------------------

    def _generate(self) -> Cells:
        rng = np.random.default_rng([self.seed, 47])
        rows = []
        for d in self.days:
            level = 0.4 if (d + 3) % 7 >= 5 else 1.0
            for k, (_, kw) in enumerate(KEYS):
                for m, (_, _, _, mw) in enumerate(MODELS):
                    for t in range(len(TAGS)):
                        req = int(rng.poisson(60 * kw * mw * level))
                        if req == 0:
                            continue
                        prompt = int(req * 1500 * rng.lognormal(0, 0.25))
                        completion = int(req * 300 * rng.lognormal(0, 0.25))
                        rows.append((d, k, m, t, prompt, completion))
        arr = np.array(rows, dtype=np.int64).reshape(-1, 6)
        return Cells(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4:].copy())

    def cells(self, revised: bool) -> Cells:
        """``revised``: yesterday's numbers as Fireworks restates them later (every third row
        1-6% higher), so a re-sync must update them."""
        if self._cells.get(revised) is None:
            base = self._cells[False]
            values = base.values.copy()
            rng = np.random.default_rng([self.seed, 99, 5])
            for i in np.nonzero(base.day == self.end_day - 1)[0][::3]:
                values[i] = np.round(values[i] * (1 + rng.uniform(0.01, 0.06))).astype(np.int64)
            self._cells[revised] = Cells(base.day, base.key, base.model, base.tag, values)
        return self._cells[revised]

    def truth(self, revised: bool) -> list[dict]:
        c = self.cells(revised)
        rows: dict[tuple, list[int]] = {}
        for i in range(len(c.day)):
            model, pin, pout, _ = MODELS[int(c.model[i])]
            acc = rows.setdefault((int(c.day[i]), model), [0, 0, 0])
            prompt, completion = int(c.values[i][0]), int(c.values[i][1])
            acc[0] += prompt
            acc[1] += completion
            acc[2] += prompt * pin + completion * pout
        return [
            {
                "date": day_str(d),
                "provider": "fireworks",
                "model": model,
                "project": None,  # no projects: `spend --json` says null
                "input_tokens": acc[0],
                "output_tokens": acc[1],
                "requests": 0,  # billingUsage reports no request count
                "billed_cost": format(Decimal(acc[2]).scaleb(-9), "f"),
            }
            for (d, model), acc in sorted(rows.items())
        ]

    # --- HTTP --------------------------------------------------------------------------------

    @staticmethod
    def endpoint_name(sub: str) -> str:
        m = _PATH.match(sub)
        if not m:
            return "fireworks.unknown"
        return (
            "fireworks.billing_usage"
            if m.group(2) == "billingUsage"
            else "fireworks.billing_summary"
        )

    def authenticate(self, req: Request, revoked: bool) -> None:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise ApiError(401, "missing API key: use the Authorization: Bearer header")
        if token != self.key or revoked:
            raise ApiError(401, "invalid API key")

    @staticmethod
    def error_body(err: ApiError) -> dict:
        return {"code": _GRPC.get(err.status, 2), "message": err.message, "details": []}

    def route(self, endpoint: str, req: Request, revised: bool) -> tuple[int, dict]:
        m = _PATH.match(req.path[len(PREFIX) :])
        if endpoint == "fireworks.unknown" or m is None:
            raise ApiError(404, "Not Found")
        if req.method != "GET":
            raise ApiError(405, f"Method {req.method} not allowed")
        if m.group(1) != self.account_id:
            raise ApiError(403, f"permission denied for account {m.group(1)[:40]!r}")
        if endpoint == "fireworks.billing_usage":
            return 200, self.billing_usage(req, revised)
        return 200, self.summary(req, revised)

    def _range(self, req: Request, dates_only: bool) -> tuple[int, int, int, int]:
        """(start s, end s, first day, end day) of ``startTime``/``endTime``."""
        out = []
        for name in ("startTime", "endTime"):
            text = single(req, name, _err)
            if text is None:
                raise _err(name, f"{name} is required")
            try:
                moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                raise _err(name, f"invalid {name}: expected an RFC 3339 time") from None
            if moment.tzinfo is None:
                raise _err(name, f"invalid {name}: expected an RFC 3339 time with an offset")
            out.append(int(moment.astimezone(UTC).timestamp()))
        start, end = out
        if start >= end and not (dates_only and start // DAY < end // DAY):
            raise _err("startTime", "start_time must be before end_time")
        if not dates_only and end - start > MAX_RANGE_DAYS * DAY:
            raise _err("endTime", "end_time must not be more than 31 days after start_time")
        if dates_only:  # the summary counts dates only; the end date is excluded
            return start, end, start // DAY, end // DAY
        return start, end, -(-start // DAY), -(-end // DAY)

    def billing_usage(self, req: Request, revised: bool) -> dict:
        check_params(req, {"startTime", "endTime", "usageType", "timezone", "groupBy"}, _err)
        _, _, first, end = self._range(req, dates_only=False)
        usage_type = single(req, "usageType", _err) or "USAGE_TYPE_UNSPECIFIED"
        if usage_type not in USAGE_TYPES:
            raise _err("usageType", f"invalid usageType {usage_type[:40]!r}")
        zone = single(req, "timezone", _err) or "UTC"
        if zone != "UTC":
            raise _err("timezone", "the fake aggregates by UTC day only")
        group_by = req.query.get("groupBy") or []
        for g in group_by:
            if g not in SERVERLESS_DIMENSIONS | OTHER_DIMENSIONS:
                raise _err("groupBy", f"unknown groupBy dimension {g[:40]!r}")
        dims = [g for g in dict.fromkeys(group_by) if g in SERVERLESS_DIMENSIONS] or ["model_name"]
        if usage_type in ("DEDICATED_DEPLOYMENT", "TRAINING"):
            return {}  # the demo account has no dedicated deployments or training jobs
        c = self.cells(revised)
        mask = (c.day >= first) & (c.day < end)
        groups: dict[tuple, np.ndarray] = {}
        for i in np.nonzero(mask)[0]:
            values = self._dims(int(c.key[i]), int(c.model[i]), int(c.tag[i]), dims)
            k = (int(c.day[i]), values)
            groups[k] = groups.get(k, 0) + c.values[i]
        rows = []
        for (d, values), v in sorted(groups.items()):
            group = dict(zip(dims, values, strict=True))
            rows.append(
                {
                    "modelName": group.get("model_name", ""),
                    "promptTokens": str(int(v[0])),
                    "completionTokens": str(int(v[1])),
                    "startTime": iso(d * DAY),
                    "endTime": iso((d + 1) * DAY),
                    "audioInputSeconds": 0,
                    "usageType": "SERVERLESS",
                    "apiKeyId": group.get("api_key_id", ""),  # deprecated: the group has it
                    "group": group,
                }
            )
        return {"serverlessCosts": rows, "dedicatedCosts": []}

    def _dims(self, k: int, m: int, t: int, dims: list[str]) -> tuple[str, ...]:
        team, project, environment = TAGS[t]
        values = {
            "model_name": MODELS[m][0],
            "api_key_id": self.key_ids[k],
            "api_key_name": KEYS[k][0],
            "annotations.team": team,
            "annotations.project": project,
            "annotations.environment": environment,
        }
        return tuple(values[d] for d in dims)

    def summary(self, req: Request, revised: bool) -> dict:
        check_params(req, {"startTime", "endTime"}, _err)
        _, _, first, end = self._range(req, dates_only=True)
        c = self.cells(revised)
        mask = (c.day >= first) & (c.day < end)
        tokens: dict[tuple[int, int], int] = {}
        for i in np.nonzero(mask)[0]:
            m = int(c.model[i])
            for side in (0, 1):
                tokens[(m, side)] = tokens.get((m, side), 0) + int(c.values[i][side])
        items = []
        for (m, side), quantity in sorted(tokens.items()):
            model, pin, pout, _ = MODELS[m]
            price = (pin, pout)[side]
            items.append(
                {
                    "category": "Serverless inference",
                    "groupingKey": "model",
                    "groupingValue": model,
                    "secondaryGroupingKey": "token_type",
                    "secondaryGroupingValue": ("input", "output")[side],
                    "quantity": quantity,
                    "unitAmount": _money(price),
                    "totalCost": _money(quantity * price),
                }
            )
        return {"lineItems": items}


def _money(nanos_total: int) -> dict:
    units, nanos = divmod(nanos_total, NANOS)
    return {"currencyCode": "USD", "units": str(units), "nanos": nanos}


def _err(param: str | None, message: str) -> ApiError:
    return ApiError(400, message, param=param)
