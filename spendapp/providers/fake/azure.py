"""The fake organisation's Azure OpenAI spend, served as Entra ID + Cost Management Query API.

Routes below the fake server's ``/azure`` prefix (the management host and the login host of the
real service share one fake)::

    POST /azure/login/{tenant}/oauth2/v2.0/token            client credentials -> bearer token
    POST /azure{scope}/providers/Microsoft.CostManagement/query?api-version=...

The query answers the documented table shape (``properties.columns``/``rows``/``nextLink``)
for ``Daily`` or ``None`` granularity, up to two ``Dimension`` groupings among ``Meter``,
``ResourceId``, ``ResourceGroup``, ``UnitOfMeasure``, ``ServiceName``, and a ``ServiceName``
``In`` filter. Costs are exact decimals (JSON numbers with at most 9 decimals).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

import numpy as np

from .org import DAY, HOUR, parse_end, price_milli

TENANT_ID = "72f988bf-0000-4000-8000-00000000fa4e"
CLIENT_ID = "0b1c2d3e-0000-4000-8000-00000000c11e"
CLIENT_SECRET = "fake~azure~demo~client~secret"  # noqa: S105 - the fake demo secret
SUBSCRIPTION = "5f4e3d2c-0000-4000-8000-000000005b5c"
SCOPE = f"/subscriptions/{SUBSCRIPTION}"
PREFIX = "/azure"
PAGE_ROWS = 200  # rows per page: a month of the demo takes two pages
SERVICE_NAME = "Azure OpenAI"
DIMENSIONS = {"Meter", "ResourceId", "ResourceGroup", "UnitOfMeasure", "ServiceName"}


def _rid(group: str, name: str) -> str:
    return f"{SCOPE}/resourceGroups/{group}/providers/Microsoft.CognitiveServices/accounts/{name}"


RESOURCES = (_rid("ai-prod", "contoso-openai-prod"), _rid("ai-dev", "contoso-openai-dev"))

# model (as the meter names it), deployment word, unit, [(token kind, meter word, $/Mtok)]
METERS = (
    (
        "gpt-4o-0806",
        "glbl",
        "1K",
        [("input", "Inp", "2.5"), ("cached", "cached-Inp", "1.25"), ("output", "Outp", "10")],
    ),
    ("gpt-4o-mini-0718", "regnl", "1M", [("input", "Inp", "0.165"), ("output", "Outp", "0.66")]),
    ("text-embedding-3-large", "glbl", "1K", [("input", "", "0.13")]),
)
UNIT_SCALE = {"1K": 1000, "1M": 1_000_000}


@dataclass
class AzureOrg:
    seed: int = 1
    days: int = 120
    end: object = None
    end_ts: int = field(init=False)

    def __post_init__(self) -> None:
        self.end_ts = parse_end(self.end)
        self.start_ts = self.end_ts - self.days * DAY
        self.first_day = self.start_ts // DAY
        self.n_days = (self.end_ts - 1) // DAY - self.first_day + 1
        self.series = [
            (r, m, d, unit, kind, word, price)
            for r in RESOURCES
            for m, d, unit, parts in METERS
            for kind, word, price in parts
        ]
        rng = np.random.default_rng([self.seed, 4])
        base = rng.uniform(2e5, 5e6, len(self.series))
        weekly = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.35, 0.3])
        days = self.first_day + np.arange(self.n_days)
        shape = weekly[(days + 3) % 7] * np.exp(0.4 * np.arange(self.n_days) / self.n_days)
        tokens = np.round(
            base[:, None] * shape[None, :] * rng.lognormal(0, 0.15, (len(base), self.n_days))
        )
        # Whole thousands for per-1K meters, whole tokens otherwise; the partial last day
        # (the data ends at `end`) is scaled to the hours it has.
        hours_last = (self.end_ts - (self.first_day + self.n_days - 1) * DAY) // HOUR
        tokens[:, -1] = np.round(tokens[:, -1] * hours_last / 24)
        self.tokens = tokens.astype(np.int64)

    def _meter(self, s) -> str:
        _r, model, dep, _unit, _kind, word, _p = s
        return f"{model}-{word}-{dep} Tokens" if word else f"{model}-{dep} Tokens"

    def tokens_of(self, revised: bool) -> np.ndarray:
        if not revised:
            return self.tokens
        out = self.tokens.copy()
        yesterday = self.end_ts // DAY - 1 - self.first_day
        if 0 <= yesterday < self.n_days:
            out[::3, yesterday] = np.round(out[::3, yesterday] * 1.04)
        return out

    def rows(self, revised: bool = False) -> list[dict[str, Any]]:
        """One row per day x resource x meter, as the Query API's dimensions name them."""
        tokens = self.tokens_of(revised)
        out = []
        for i, s in enumerate(self.series):
            resource, model, _dep, unit, kind, _word, price = s
            for d in range(self.n_days):
                count = int(tokens[i, d])
                if not count:
                    continue
                day = datetime.fromtimestamp((self.first_day + d) * DAY, UTC)
                out.append(
                    {
                        "day": day,
                        "Meter": self._meter(s),
                        "ResourceId": resource,
                        "ResourceGroup": resource.split("/resourceGroups/")[1].split("/")[0],
                        "UnitOfMeasure": unit,
                        "ServiceName": SERVICE_NAME,
                        "Cost": Decimal(count * price_milli(price)).scaleb(-9),
                        "UsageQuantity": Decimal(count) / UNIT_SCALE[unit],
                        "model": model,
                        "kind": kind,
                        "tokens": count,
                    }
                )
        return out

    def truth(self, revised: bool = False) -> list[dict]:
        rows: dict[tuple, dict] = {}
        for r in self.rows(revised):
            project = r["ResourceId"].rsplit("/", 1)[1]
            key = (r["day"].date().isoformat(), r["model"], project)
            row = rows.setdefault(
                key,
                {
                    "date": key[0],
                    "provider": "azure_openai",
                    "model": key[1],
                    "project": key[2],
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "requests": 0,
                    "billed_cost": Decimal(0),
                },
            )
            row["output_tokens" if r["kind"] == "output" else "input_tokens"] += r["tokens"]
            row["billed_cost"] += r["Cost"]
        return [
            {**r, "billed_cost": format(r["billed_cost"], "f")} for _, r in sorted(rows.items())
        ]


class AzureError(Exception):
    def __init__(self, status: int, code: str, message: str, *, oauth: bool = False):
        super().__init__(message)
        self.status, self.code, self.message, self.oauth = status, code, message, oauth

    def body(self) -> dict:
        if self.oauth:
            return {"error": self.code, "error_description": self.message}
        return {"error": {"code": self.code, "message": self.message}}


class AzureApi:
    """Request handling for the ``/azure`` routes (auth, validation, paging)."""

    def __init__(self, org: AzureOrg, client_secret: str = CLIENT_SECRET):
        self.org = org
        self.client_secret = client_secret
        self.tokens: set[str] = set()
        self.issued = 0

    @staticmethod
    def endpoint(path: str) -> str:
        sub = path[len(PREFIX) :]
        if re.match(r"^/login/[^/]+/oauth2/v2\.0/token$", sub):
            return "azure.token"
        if re.match(
            r"^/subscriptions/[^/]+(/resourceGroups/[^/]+)?/providers/"
            r"Microsoft\.CostManagement/query$",
            sub,
            re.IGNORECASE,
        ):
            return "azure.query"
        return "azure.unknown"

    def handle(
        self,
        endpoint: str,
        method: str,
        path: str,
        query: dict,
        headers,
        body: bytes,
        revoked: bool,
        revised: bool,
        host: str,
    ) -> Any:
        if endpoint == "azure.unknown":
            raise AzureError(404, "NotFound", f"No route for {method} {path}")
        if method != "POST":
            raise AzureError(405, "MethodNotAllowed", f"{method} is not supported")
        if endpoint == "azure.token":
            return self.token(path, body, revoked)
        self._check_bearer(headers, revoked)
        return self.query(path, query, body, revised, host)

    def token(self, path: str, body: bytes, revoked: bool) -> dict:
        form = {k: v[-1] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if form.get("grant_type") != "client_credentials":
            raise AzureError(400, "unsupported_grant_type", "AADSTS70003: grant_type", oauth=True)
        tenant = path.split("/")[3]
        if tenant != TENANT_ID:
            raise AzureError(
                400, "invalid_request", f"AADSTS90002: Tenant '{tenant}' not found.", oauth=True
            )
        if form.get("client_id") != CLIENT_ID:
            raise AzureError(
                400,
                "unauthorized_client",
                "AADSTS700016: Application not found in the directory.",
                oauth=True,
            )
        if form.get("client_secret") != self.client_secret or revoked:
            raise AzureError(
                401, "invalid_client", "AADSTS7000215: Invalid client secret provided.", oauth=True
            )
        if form.get("scope") != "https://management.azure.com/.default":
            raise AzureError(400, "invalid_scope", "AADSTS70011: invalid scope", oauth=True)
        self.issued += 1
        token = base64.urlsafe_b64encode(f"fake-azure-{self.issued}".encode()).decode()
        self.tokens.add(token)
        return {
            "token_type": "Bearer",
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": token,
        }

    def _check_bearer(self, headers, revoked: bool) -> None:
        auth = headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        if not token:
            raise AzureError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )
        if token not in self.tokens or revoked:
            raise AzureError(401, "InvalidAuthenticationToken", "The access token is invalid.")

    def query(self, path: str, query: dict, body: bytes, revised: bool, host: str) -> dict:
        if not (query.get("api-version") or [""])[0]:
            raise AzureError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required.",
            )
        try:
            spec = json.loads(body or b"null")
        except ValueError:
            raise AzureError(400, "BadRequest", "Invalid query definition: not JSON") from None
        start, end, daily, groups, aggs, services = _validate(spec)
        scope = path[len(PREFIX) :].split("/providers/")[0]
        table: dict[tuple, list[Decimal]] = {}
        for r in self.org.rows(revised):
            if not (start <= r["day"] <= end) or r["ServiceName"] not in services:
                continue
            if not r["ResourceId"].lower().startswith(scope.lower() + "/"):
                continue
            key = (*(r[g] for g in groups), int(r["day"].strftime("%Y%m%d")) if daily else None)
            acc = table.setdefault(key, [Decimal(0), Decimal(0)])
            acc[0] += r["Cost"]
            acc[1] += r["UsageQuantity"]
        columns = [{"name": name, "type": "Number"} for name, _ in aggs]
        columns += [{"name": g, "type": "String"} for g in groups]
        if daily:
            columns.append({"name": "UsageDate", "type": "Number"})
        columns.append({"name": "Currency", "type": "String"})
        rows = []
        for key, (cost, quantity) in sorted(table.items(), key=lambda kv: str(kv[0])):
            values = [cost if kind == "Cost" else quantity for _, kind in aggs]
            rows.append([*values, *key[: len(groups)], *([key[-1]] if daily else []), "USD"])
        skip = int((query.get("$skiptoken") or ["0"])[0] or 0)
        page = rows[skip : skip + PAGE_ROWS]
        next_link = None
        if skip + PAGE_ROWS < len(rows):
            next_link = (
                f"http://{host}{path}?api-version={query['api-version'][0]}"
                f"&$skiptoken={skip + PAGE_ROWS}"
            )
        return {
            "id": f"{scope}/providers/Microsoft.CostManagement/query/fake",
            "name": "fake",
            "type": "Microsoft.CostManagement/query",
            "properties": {"nextLink": next_link, "columns": columns, "rows": page},
        }


def _validate(spec: Any):
    def bad(message: str) -> AzureError:
        return AzureError(400, "BadRequest", f"Invalid query definition: {message}")

    if not isinstance(spec, dict):
        raise bad("expected a JSON object")
    if spec.get("type") not in ("ActualCost", "Usage", "AmortizedCost"):
        raise bad("type must be ActualCost, Usage or AmortizedCost")
    if spec.get("timeframe") != "Custom":
        raise bad("the fake serves timeframe Custom only")
    period = spec.get("timePeriod") or {}
    try:
        start = datetime.fromisoformat(period["from"]).astimezone(UTC)
        end = datetime.fromisoformat(period["to"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        raise bad("timePeriod.from and timePeriod.to must be ISO 8601 date-times") from None
    if end < start or end - start > timedelta(days=366):
        raise bad("timePeriod must be at most one year and end after it starts")
    dataset = spec.get("dataset") or {}
    granularity = dataset.get("granularity", "None")
    if granularity not in ("Daily", "None"):
        raise bad("dataset.granularity must be Daily or None")
    grouping = dataset.get("grouping") or []
    if not isinstance(grouping, list) or len(grouping) > 2:
        raise bad("dataset.grouping: at most 2 group by clauses")
    groups = []
    for g in grouping:
        if (
            not isinstance(g, dict)
            or g.get("type") != "Dimension"
            or g.get("name") not in DIMENSIONS
        ):
            raise bad(f"dataset.grouping: unsupported {g!r}")
        groups.append(g["name"])
    aggs = []
    for alias, agg in (dataset.get("aggregation") or {}).items():
        if (
            not isinstance(agg, dict)
            or agg.get("function") != "Sum"
            or agg.get("name") not in ("Cost", "PreTaxCost", "UsageQuantity")
        ):
            raise bad(f"dataset.aggregation.{alias}: unsupported")
        aggs.append((agg["name"], "UsageQuantity" if agg["name"] == "UsageQuantity" else "Cost"))
    if not aggs:
        raise bad("dataset.aggregation is required")
    services = {SERVICE_NAME}
    flt = dataset.get("filter")
    if flt is not None:
        dims = flt.get("dimensions") if isinstance(flt, dict) else None
        if (
            not isinstance(dims, dict)
            or dims.get("name") != "ServiceName"
            or dims.get("operator") != "In"
        ):
            raise bad("the fake understands a ServiceName In filter only")
        services = set(dims.get("values") or [])
    day_start = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return day_start, end, granularity == "Daily", groups, aggs, services
