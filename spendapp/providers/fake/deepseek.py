"""Fake DeepSeek: the balance endpoint, as DeepSeek's API reference describes it.

Base URL ``http://HOST:PORT/deepseek`` (``Authorization: Bearer <API key>``):
``GET /user/balance`` -> ``{"is_available": bool, "balance_infos": [{"currency",
"total_balance", "granted_balance", "topped_up_balance"}]}`` with amounts as strings.

The account holds CNY (topped up and granted) and USD (topped up). The balance falls by a
steady deterministic burn per hour of the data end, so a later fake (a later ``end``) reports a
lower balance; DeepSeek has no usage API, so there is no usage truth.
"""

from __future__ import annotations

from decimal import Decimal

from .api import ApiError, Request, check_params
from .org import DAY, HOUR, parse_end

PREFIX = "/deepseek"
DEFAULT_KEY = "sk-spendapp-demo-deepseek"
# currency: (topped up, granted, burn per hour), in cents
WALLETS = {"CNY": (500_000, 10_000, 310), "USD": (120_000, 0, 9)}


class DeepSeekFake:
    provider = "deepseek"
    prefix = PREFIX

    def __init__(self, seed: int, days: int, end: object, key: str = DEFAULT_KEY):
        self.seed = seed
        self.key = key
        self.end_ts = parse_end(end)
        self.hours = (self.end_ts % (60 * DAY)) // HOUR  # deterministic from the data end

    def balances(self) -> list[dict]:
        out = []
        for currency, (topped, granted, burn) in WALLETS.items():
            spent = min(burn * (self.hours + self.seed), topped + granted)
            from_grant = min(spent, granted)  # grants are used first
            g, t = granted - from_grant, topped - (spent - from_grant)
            out.append(
                {
                    "currency": currency,
                    "total_balance": _money(g + t),
                    "granted_balance": _money(g),
                    "topped_up_balance": _money(t),
                }
            )
        return out

    def truth(self, revised: bool) -> list[dict]:
        return []  # no usage API

    @staticmethod
    def endpoint_name(sub: str) -> str:
        return "deepseek.balance" if sub == "/user/balance" else "deepseek.unknown"

    def authenticate(self, req: Request, revoked: bool) -> None:
        auth = req.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if token != self.key or revoked:
            raise ApiError(
                401,
                f"Authentication Fails, Your api key: ****{token[-4:] if token else ''} is invalid",
                etype="authentication_error",
                code="invalid_request_error",
            )

    @staticmethod
    def error_body(err: ApiError) -> dict:
        return {
            "error": {
                "message": err.message,
                "type": err.etype or "invalid_request_error",
                "param": err.param,
                "code": err.code,
            }
        }

    def route(self, endpoint: str, req: Request, revised: bool) -> tuple[int, dict]:
        if endpoint == "deepseek.unknown":
            raise ApiError(404, "Not Found")
        if req.method != "GET":
            raise ApiError(405, f"Method {req.method} not allowed")
        check_params(req, set(), lambda p, m: ApiError(400, m, param=p))
        wallets = self.balances()
        available = any(Decimal(w["total_balance"]) > 0 for w in wallets)
        return 200, {"is_available": available, "balance_infos": wallets}


def _money(cents: int) -> str:
    return format(Decimal(cents).scaleb(-2), "f")
