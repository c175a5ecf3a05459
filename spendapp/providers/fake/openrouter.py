"""Fake OpenRouter: activity, keys and credits, as OpenRouter's API reference describes them.

Base URL ``http://HOST:PORT/openrouter/api/v1`` (``Authorization: Bearer <management key>``):

* ``GET /activity?date=YYYY-MM-DD[&api_key_hash=H]``: items per day x model x upstream
  endpoint, for the last 30 *completed* UTC days before the data end (400 otherwise);
* ``GET /keys?include_disabled=&offset=``: the listed keys (one more key's usage exists in the
  activity but the key was deleted: it is in the unfiltered answer only);
* ``GET /credits``: ``total_credits`` and ``total_usage`` (every emitted cost, summed).

Costs are generated in integer micro-dollars and emitted as JSON numbers with at most six
decimals, so the exact decimal truth is the sum of what the API emits.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from .api import ApiError, Request, check_params, single
from .org import DAY, day_str, div_round_half_even, parse_end

PREFIX = "/openrouter/api/v1"
DEFAULT_KEY = "sk-or-v1-spendapp-demo-management"
ACTIVITY_DAYS = 30
CREDITS_BOUGHT_MICRO = 25_000 * 10**6  # $25,000 of credits bought over time

# model, permaslug, [(provider_name, prompt $/M, completion $/M)], weight, reasoning share %
MODELS = [
    ("openai/gpt-5.4", "openai/gpt-5.4-2026-03-05", [("OpenAI", "2.5", "15")], 1.0, 20),
    (
        "anthropic/claude-sonnet-4.6",
        "anthropic/claude-4.6-sonnet-20260217",
        [("Anthropic", "3", "15"), ("Amazon Bedrock", "3", "15")],
        0.8,
        10,
    ),
    (
        "deepseek/deepseek-v3.2",
        "deepseek/deepseek-v3.2-20251201",
        [("DeepSeek", "0.28", "0.42"), ("Fireworks", "0.56", "1.68")],
        1.5,
        0,
    ),
    (
        "meta-llama/llama-4-maverick",
        "meta-llama/llama-4-maverick-17b",
        [("Groq", "0.2", "0.6")],
        0.6,
        0,
    ),
]
# name, label, weight; the last key was deleted (its usage stays in the day's totals).
KEYS = [
    ("support-bot", "sk-or-v1-a1b...e90", 1.0),
    ("eval-harness", "sk-or-v1-77c...0d2", 0.5),
    ("agents-prod", "sk-or-v1-c3f...9aa", 1.4),
    ("notebooks", "sk-or-v1-1de...4b7", 0.2),
    ("(deleted) old-prototype", "sk-or-v1-9f0...000", 0.3),
]
LISTED_KEYS = len(KEYS) - 1


def _milli(price: str) -> int:
    return int(Decimal(price) * 1000)


def _key_hash(seed: int, i: int) -> str:
    return hashlib.sha256(f"spendapp-fake-openrouter-{seed}-{i}".encode()).hexdigest()


def _endpoint_id(seed: int, m: int, p: int) -> str:
    h = hashlib.sha256(f"endpoint-{seed}-{m}-{p}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


@dataclass
class Cells:
    """Generated activity: one row per (day, key, model, endpoint) with requests > 0."""

    day: np.ndarray  # int64 day index (days since 1970-01-01)
    key: np.ndarray
    model: np.ndarray
    endpoint: np.ndarray
    values: np.ndarray  # (N, 5): requests, prompt, completion, reasoning, cost_micro


class OpenRouterFake:
    provider = "openrouter"
    prefix = PREFIX

    def __init__(self, seed: int, days: int, end: object, key: str = DEFAULT_KEY):
        self.seed = seed
        self.key = key
        end_ts = parse_end(end)
        self.end_day = end_ts // DAY  # the day holding the data end: not completed yet
        first = (end_ts - days * DAY) // DAY
        self.days = list(range(max(first, self.end_day - ACTIVITY_DAYS), self.end_day))
        self.key_hashes = [_key_hash(seed, i) for i in range(len(KEYS))]
        self._cells = {False: self._generate(), True: None}

    # --- data --------------------------------------------------------------------------------

    def _generate(self) -> Cells:
        rng = np.random.default_rng([self.seed, 31])
        rows = []
        for d in self.days:
            weekday = (d + 3) % 7
            level = 0.35 if weekday >= 5 else 1.0
            for k, (_, _, kw) in enumerate(KEYS):
                for m, (_, _, endpoints, mw, reasoning_pct) in enumerate(MODELS):
                    for p, (_, pin, pout) in enumerate(endpoints):
                        req = int(rng.poisson(400 * kw * mw * level / len(endpoints)))
                        if req == 0:
                            continue
                        prompt = int(req * 1800 * rng.lognormal(0, 0.2))
                        completion = int(req * 350 * rng.lognormal(0, 0.2))
                        reasoning = completion * reasoning_pct // 100
                        nano = prompt * _milli(pin) + completion * _milli(pout)
                        cost = div_round_half_even(nano, 1000)  # 1e-9 $ -> micro-dollars
                        rows.append((d, k, m, p, req, prompt, completion, reasoning, cost))
        arr = np.array(rows, dtype=np.int64).reshape(-1, 9)
        return Cells(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], arr[:, 4:].copy())

    def cells(self, revised: bool) -> Cells:
        if self._cells.get(revised) is None:
            base = self._cells[False]
            values = base.values.copy()
            yesterday = self.end_day - 1
            rng = np.random.default_rng([self.seed, 99, 3])
            for i in np.nonzero(base.day == yesterday)[0][::3]:
                values[i] = np.round(values[i] * (1 + rng.uniform(0.01, 0.06))).astype(np.int64)
            self._cells[revised] = Cells(base.day, base.key, base.model, base.endpoint, values)
        return self._cells[revised]

    def truth(self, revised: bool) -> list[dict]:
        c = self.cells(revised)
        rows: dict[tuple, list[int]] = {}
        for i in range(len(c.day)):
            key = (int(c.day[i]), MODELS[int(c.model[i])][0])
            acc = rows.setdefault(key, [0, 0, 0, 0])
            v = c.values[i]
            acc[0] += int(v[1])
            acc[1] += int(v[2])
            acc[2] += int(v[0])
            acc[3] += int(v[4])
        return [
            {
                "date": day_str(d),
                "provider": "openrouter",
                "model": model,
                "project": None,  # no projects: `spend --json` says null
                "input_tokens": acc[0],
                "output_tokens": acc[1],
                "requests": acc[2],
                "billed_cost": format(Decimal(acc[3]).scaleb(-6), "f"),
            }
            for (d, model), acc in sorted(rows.items())
        ]

    def credits_used_micro(self, revised: bool) -> int:
        return int(self.cells(revised).values[:, 4].sum())

    # --- HTTP --------------------------------------------------------------------------------

    @staticmethod
    def endpoint_name(sub: str) -> str:
        return {"/activity": "openrouter.activity", "/keys": "openrouter.keys"}.get(
            sub, "openrouter.credits" if sub == "/credits" else "openrouter.unknown"
        )

    def authenticate(self, req: Request, revoked: bool) -> None:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise ApiError(401, "No auth credentials found")
        if token != self.key or revoked:
            raise ApiError(401, "User not found.")

    @staticmethod
    def error_body(err: ApiError) -> dict:
        return {"error": {"code": err.status, "message": err.message}}

    def route(self, endpoint: str, req: Request, revised: bool) -> tuple[int, dict]:
        if endpoint == "openrouter.unknown":
            raise ApiError(404, "Not Found")
        if req.method != "GET":
            raise ApiError(405, f"Method {req.method} not allowed")
        if endpoint == "openrouter.activity":
            return 200, self.activity(req, revised)
        if endpoint == "openrouter.keys":
            return 200, self.keys(req, revised)
        used = Decimal(self.credits_used_micro(revised)).scaleb(-6)
        bought = Decimal(CREDITS_BOUGHT_MICRO).scaleb(-6)
        return 200, {"data": {"total_credits": float(bought), "total_usage": float(used)}}

    def activity(self, req: Request, revised: bool) -> dict:
        check_params(req, {"date", "api_key_hash", "user_id"}, _err)
        text = single(req, "date", _err)
        c = self.cells(revised)
        mask = np.ones(len(c.day), dtype=bool)
        if text is not None:
            try:
                day = np.datetime64(text.strip(), "D").astype(np.int64)
            except ValueError:
                raise _err("date", "Invalid date format, expected YYYY-MM-DD") from None
            if not (self.end_day - ACTIVITY_DAYS <= day < self.end_day):
                raise _err("date", "Date must be within the last 30 (completed) UTC days")
            mask &= c.day == day
        key_hash = single(req, "api_key_hash", _err)
        if key_hash is not None:
            if key_hash not in self.key_hashes[:LISTED_KEYS]:
                return {"data": []}
            mask &= c.key == self.key_hashes.index(key_hash)
        groups: dict[tuple, np.ndarray] = {}
        for i in np.nonzero(mask)[0]:
            k = (int(c.day[i]), int(c.model[i]), int(c.endpoint[i]))
            groups[k] = groups.get(k, 0) + c.values[i]
        data = []
        for (d, m, p), v in sorted(groups.items()):
            model, slug, endpoints, _, _ = MODELS[m]
            data.append(
                {
                    "date": day_str(d),
                    "model": model,
                    "model_permaslug": slug,
                    "endpoint_id": _endpoint_id(self.seed, m, p),
                    "provider_name": endpoints[p][0],
                    "usage": float(Decimal(int(v[4])).scaleb(-6)),
                    "byok_usage_inference": 0,
                    "requests": int(v[0]),
                    "prompt_tokens": int(v[1]),
                    "completion_tokens": int(v[2]),
                    "reasoning_tokens": int(v[3]),
                }
            )
        return {"data": data}

    def keys(self, req: Request, revised: bool) -> dict:
        check_params(req, {"include_disabled", "offset", "workspace_id"}, _err)
        offset = int(single(req, "offset", _err) or 0)
        c = self.cells(revised)
        data = []
        for i, (name, label, _) in enumerate(KEYS[:LISTED_KEYS]):
            spent = Decimal(int(c.values[c.key == i, 4].sum())).scaleb(-6)
            data.append(
                {
                    "hash": self.key_hashes[i],
                    "name": name,
                    "label": label,
                    "disabled": False,
                    "limit": None,
                    "usage": float(spent),
                    "created_at": "2026-01-05T10:30:00Z",
                    "updated_at": "2026-06-01T08:00:00Z",
                }
            )
        return {"data": data[offset : offset + 100]}


def _err(param: str | None, message: str) -> ApiError:
    return ApiError(400, message, param=param)
