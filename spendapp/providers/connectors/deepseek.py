"""DeepSeek connector: the account balance, per currency.

DeepSeek's API reference has no usage or cost endpoint (as of 2026-12: chat and FIM
completions, models, and the balance), so this connector syncs no usage: only
``GET /user/balance`` (``Authorization: Bearer <API key>``), documented as::

    {"is_available": true,
     "balance_infos": [{"currency": "CNY", "total_balance": "110.00",
                        "granted_balance": "10.00", "topped_up_balance": "100.00"}]}

One balance per currency (``CNY`` or ``USD``), amounts as decimal strings. The currency is
stored as reported; Finance enters the conversion rate (never looked up on the network).
Spend is then the fall of the balance between snapshots (see ``spendapp.usage.credits``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from spendapp.providers.errors import MalformedResponse
from spendapp.providers.records import BalanceRecord, NamedEntity, Page

from .base import Connector, EndpointSpec, optional_decimal, require


class DeepSeekConnector(Connector):
    provider = "deepseek"
    probe_endpoint = ""
    connected_message = "Connected to DeepSeek: the key can read the account balance."
    default_base_url = "https://api.deepseek.com"
    display_name = "DeepSeek"

    @staticmethod
    def _normalise_base_url(base_url: str) -> str:
        """The balance lives at the root (``/user/balance``), not under ``/v1``."""
        base = base_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return base.removesuffix("/v1")

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key.reveal()}"}

    def endpoints(self) -> list[EndpointSpec]:
        return []  # no usage or cost API

    def _path(self, spec: EndpointSpec) -> str:  # pragma: no cover - no endpoints
        raise ValueError("DeepSeek has no usage endpoints")

    def _window_params(self, spec, start, end) -> list[tuple[str, str]]:  # pragma: no cover
        raise ValueError("DeepSeek has no usage endpoints")

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:  # pragma: no cover
        raise ValueError("DeepSeek has no usage endpoints")

    def _names(self) -> list[NamedEntity]:
        return []

    def _balances(self) -> list[BalanceRecord]:
        return parse_balance(self._get(self._url("user/balance"), []), datetime.now(UTC))

    def _test_connection(self) -> str:
        balances = self._balances()
        shown = ", ".join(f"{b.amount} {b.currency}" for b in balances) or "none reported"
        return f"{self.connected_message} Balance: {shown}."


def parse_balance(body: Any, observed_at: datetime) -> list[BalanceRecord]:
    """The balance answer -> one record per currency."""
    if not isinstance(body, dict):
        raise MalformedResponse(f"expected a JSON object, got {type(body).__name__}")
    available = require(body, "is_available", bool)
    infos = require(body, "balance_infos", list)
    out: list[BalanceRecord] = []
    seen: set[str] = set()
    for i, info in enumerate(infos):
        where = f"balance_infos[{i}]"
        if not isinstance(info, dict):
            raise MalformedResponse("expected an object", field=where)
        currency = require(info, "currency", str, where).strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise MalformedResponse(f"not an ISO 4217 code: {currency[:8]!r}", field=where)
        if currency in seen:
            raise MalformedResponse(f"currency {currency} twice", field=where)
        seen.add(currency)
        total = _amount(info, "total_balance", where)
        out.append(
            BalanceRecord(
                observed_at=observed_at,
                currency=currency,
                amount=total,
                granted=_amount(info, "granted_balance", where, required=False),
                topped_up=_amount(info, "topped_up_balance", where, required=False),
                available=available,
            )
        )
    return out


def _amount(info: dict, key: str, where: str, *, required: bool = True) -> Decimal | None:
    if not required and info.get(key) is None:
        return None
    value = optional_decimal(require(info, key, (str, int, Decimal), where), f"{where}.{key}")
    return value
