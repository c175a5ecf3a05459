"""Azure OpenAI connector: daily cost and tokens from the Cost Management Query API.

Authentication: Microsoft Entra ID client credentials. ``POST {authority}/{tenant_id}/oauth2/
v2.0/token`` with ``grant_type=client_credentials``, ``client_id``, ``client_secret`` and
``scope=https://management.azure.com/.default`` returns ``{"token_type": "Bearer",
"expires_in": 3599, "access_token": "..."}``; the token is reused until a minute before it
expires. The app registration needs the built-in **Cost Management Reader** role (read-only)
on the scope.

Query: ``POST {base_url}{scope}/providers/Microsoft.CostManagement/query?api-version=2023-11-01``
with an ``ActualCost`` query over a custom time period, daily granularity, the sums of ``Cost``
and ``UsageQuantity``, filtered to the Azure OpenAI service, grouped by ``Meter`` and
``ResourceId`` (the API allows two groupings). The answer is a table: ``properties.columns``
(``name``/``type``) and ``properties.rows`` (arrays in column order; ``UsageDate`` is a number
``YYYYMMDD``), with ``properties.nextLink`` for the next page (POSTed again with the same body).
A second query of the window, without granularity and grouped by ``Meter`` and
``UnitOfMeasure``, gives each meter's unit (``1K``, ``1M``...), so tokens are exact counts.

* ``azure_openai.cost``: cost per day x Azure OpenAI resource (``project_id``, the resource's
  name) x meter (``line_item``), with the model, token type and deployment type read from the
  meter name;
* ``azure_openai.usage``: tokens per day x resource x model x deployment type (``service_tier``),
  from the token meters' quantities.

Account settings: ``tenant_id``, ``client_id``, ``scope`` (``/subscriptions/<id>`` or
``/subscriptions/<id>/resourceGroups/<name>``), optional ``authority`` (default
``https://login.microsoftonline.com``) and ``service_names`` (the ``ServiceName`` values to keep,
default ``Azure OpenAI`` and ``Cognitive Services``... see docs/providers/azure-openai.md). The key
field holds the client secret.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from spendapp.providers.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderRequestError,
)
from spendapp.providers.records import CostRecord, NamedEntity, Page, UsageRecord

from .base import Connector, EndpointSpec, Secret
from .bedrock import CredentialError
from .http import HttpClient
from .logfilter import register_secret

API_VERSION = "2023-11-01"
MANAGEMENT_SCOPE = "https://management.azure.com/.default"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
DEFAULT_SERVICE_NAMES = ("Azure OpenAI", "Cognitive Services", "Foundry Models")
WINDOW = timedelta(days=31)
MAX_PAGES = 1000
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")
_SCOPE = re.compile(r"^/subscriptions/[0-9a-fA-F-]{36}(/resourceGroups/[A-Za-z0-9._()-]{1,90})?$")
_UNITS = {"": 1, "1": 1, "1K": 1000, "1M": 1_000_000, "1K TOKENS": 1000, "1M TOKENS": 1_000_000}
# Meter name words, in the forms Azure writes them ("gpt-4o-0806-Inp-glbl Tokens",
# "gpt 4o 0513 Output regional Tokens", "gpt-4.1-cached-inp-DZone Tokens").
_KIND_WORDS = (
    (("cached", "cchd", "cache"), "cached_input"),
    (("inp", "input", "in"), "input"),
    (("outp", "output", "out"), "output"),
)
_DEPLOYMENT_WORDS = {
    "glbl": "global",
    "global": "global",
    "gl": "global",
    "regnl": "regional",
    "regional": "regional",
    "rgnl": "regional",
    "dzone": "data_zone",
    "datazone": "data_zone",
    "dz": "data_zone",
    "batch": "batch",
    "ptu": "provisioned",
}
_NOISE = {"tokens", "token", "1k", "1m"}


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise CredentialError("expected a JSON object", "settings")
    out = {
        "tenant_id": str(settings.get("tenant_id") or "").strip(),
        "client_id": str(settings.get("client_id") or "").strip(),
        "scope": str(settings.get("scope") or "").strip().rstrip("/"),
        "authority": str(settings.get("authority") or DEFAULT_AUTHORITY).strip().rstrip("/"),
        "service_names": settings.get("service_names") or list(DEFAULT_SERVICE_NAMES),
    }
    for name in ("tenant_id", "client_id"):
        if not _GUID.match(out[name]):
            raise CredentialError(f"{name}: expected a GUID (the app registration's)", "settings")
    if not _SCOPE.match(out["scope"]):
        raise CredentialError(
            "scope: expected /subscriptions/<id> or /subscriptions/<id>/resourceGroups/<name>",
            "settings",
        )
    if not out["authority"].startswith(("https://", "http://")):
        raise CredentialError("authority: expected an https:// URL", "settings")
    names = out["service_names"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise CredentialError("service_names: expected a list of strings", "settings")
    unknown = set(settings) - set(out)
    if unknown:
        raise CredentialError(f"unknown setting(s): {', '.join(sorted(unknown))}", "settings")
    return out


def check_account(settings: dict[str, Any], key: str | None) -> None:
    check_settings(settings)
    if key is not None and key != "" and len(key.strip()) < 8:
        raise CredentialError("the client secret looks too short", "api_key")


def read_meter(meter: str) -> tuple[str, str, str]:
    """``(model, token type, deployment type)`` of a meter name; token type ``""`` if the
    meter does not count tokens (hosting hours, fine-tuning training...)."""
    words = [w for w in re.split(r"[\s\-_/]+", meter.strip()) if w]
    lower = [w.lower() for w in words]
    if not any(w in ("tokens", "token") for w in lower):
        return meter.strip(), "", ""
    kind, deployment, model_words = "", "", []
    for word, low in zip(words, lower, strict=True):
        matched = next((k for names, k in _KIND_WORDS if low in names), "")
        if (matched and not kind) or matched == "cached_input":
            kind = matched
            continue
        if low in _DEPLOYMENT_WORDS:
            deployment = _DEPLOYMENT_WORDS[low]
            continue
        if low in _NOISE or matched:
            continue
        model_words.append(word)
    # A token meter without a direction (embeddings: "text-embedding-3-large-glbl Tokens")
    # counts input tokens.
    return "-".join(model_words).lower(), kind or "input", deployment


class AzureOpenAIConnector(Connector):
    provider = "azure_openai"
    probe_endpoint = "azure_openai.cost"
    connected_message = "Connected to Azure Cost Management: the app can query the scope's cost."
    default_base_url = "https://management.azure.com"
    display_name = "Azure OpenAI"
    uses_settings: ClassVar[bool] = True
    check_account = staticmethod(check_account)  # the admin form's validation

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: HttpClient | None = None,
        settings: dict[str, Any] | None = None,
    ):
        if not api_key or not api_key.strip():
            raise ValueError("Azure OpenAI: the app registration's client secret is required")
        self.settings = check_settings(settings or {})
        base = (base_url or self.default_base_url).strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        self.base_url = base
        self._api_key = Secret(api_key.strip())
        register_secret(self._api_key.reveal())
        self._owns_client = client is None
        self.client = client if client is not None else HttpClient()
        self._token: tuple[str, float] | None = None
        self._tables: dict[tuple, tuple[list, dict[str, int]]] = {}

    # -- auth -----------------------------------------------------------------------------------

    def _access_token(self) -> str:
        if self._token and self._token[1] > time.monotonic():
            return self._token[0]
        url = f"{self.settings['authority']}/{self.settings['tenant_id']}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings["client_id"],
            "client_secret": self._api_key.reveal(),
            "scope": MANAGEMENT_SCOPE,
        }
        try:
            body = self.client.post_json(url, form=form, secrets=(self._api_key.reveal(),))
        except ProviderRequestError as exc:
            # Entra answers a wrong secret or client with 400 invalid_client/unauthorized_client.
            if "invalid_client" in str(exc) or "unauthorized_client" in str(exc):
                raise ProviderAuthError(str(exc)) from None
            raise
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise MalformedResponse("required field is missing", field="token.access_token")
        expires = body.get("expires_in", 3599)
        try:
            lifetime = float(expires)
        except (TypeError, ValueError):
            raise MalformedResponse("expected seconds", field="token.expires_in") from None
        token = body["access_token"]
        register_secret(token)
        self._token = (token, time.monotonic() + max(0.0, lifetime - 60))
        return token

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._access_token()}"}

    # -- endpoints ------------------------------------------------------------------------------

    def endpoints(self) -> list[EndpointSpec]:
        return [
            EndpointSpec("azure_openai.usage", "usage", "1d", WINDOW),
            EndpointSpec("azure_openai.cost", "cost", "1d", WINDOW),
        ]

    def _path(self, spec: EndpointSpec) -> str:
        return f"{self.settings['scope']}/providers/Microsoft.CostManagement/query"

    def _window_params(self, spec, start, end) -> list[tuple[str, str]]:
        return [("api-version", API_VERSION)]

    def query_body(self, start: datetime, end: datetime, daily: bool) -> dict[str, Any]:
        """The Query API request for ``[start, end)`` (``to`` is inclusive: end - 1 s)."""
        last = end - timedelta(seconds=1)
        dataset: dict[str, Any] = {
            "granularity": "Daily" if daily else "None",
            "aggregation": {
                "totalCost": {"name": "Cost", "function": "Sum"},
                "totalQuantity": {"name": "UsageQuantity", "function": "Sum"},
            },
            "grouping": [
                {"type": "Dimension", "name": "Meter"},
                {"type": "Dimension", "name": "ResourceId" if daily else "UnitOfMeasure"},
            ],
            "filter": {
                "dimensions": {
                    "name": "ServiceName",
                    "operator": "In",
                    "values": list(self.settings["service_names"]),
                }
            },
        }
        return {
            "type": "ActualCost",
            "timeframe": "Custom",
            "timePeriod": {
                "from": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "to": last.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
            },
            "dataset": dataset,
        }

    def _fetch_pages(self, spec: EndpointSpec, start: datetime, end: datetime) -> Iterator[Page]:
        with self._scrubbed_errors():
            rows, units = self._window(start, end)
            yield self.parse_page(spec, (rows, units))

    def _window(self, start: datetime, end: datetime) -> tuple[list, dict[str, int]]:
        """Daily rows and meter units of a window (both endpoints share one read)."""
        key = (start, end)
        if key not in self._tables:
            rows = self._query(self.query_body(start, end, daily=True), "daily")
            units = meter_units(self._query(self.query_body(start, end, daily=False), "units"))
            self._tables[key] = (rows, units)
        return self._tables[key]

    def _query(self, body: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """Every row of a query, following ``nextLink``, as dicts by column name."""
        url = self._url(self._path(self.endpoints()[0]))
        params: list[tuple[str, str]] = [("api-version", API_VERSION)]
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for page in range(MAX_PAGES):
            answer = self.client.post_json(
                url,
                params=params,
                headers=self._auth_headers(),
                json_body=body,
                secrets=(self._api_key.reveal(),),
            )
            columns, rows, next_link = parse_table(answer, f"{what}[page {page}]")
            out.extend(dict(zip(columns, row, strict=True)) for row in rows)
            if not next_link:
                return out
            if next_link in seen:
                raise MalformedResponse("the same nextLink came back twice", field="nextLink")
            seen.add(next_link)
            url, params = self._next_url(next_link)
        raise MalformedResponse(f"more than {MAX_PAGES} pages", field="nextLink")

    def _next_url(self, link: str) -> tuple[str, list[tuple[str, str]]]:
        """``nextLink`` as URL and query; it must point at our own host, since the bearer
        token goes with it."""
        split, base = urlsplit(link), urlsplit(self.base_url)
        if (split.scheme, split.netloc) != (base.scheme, base.netloc):
            raise MalformedResponse("points to another host", field="properties.nextLink")
        url = f"{split.scheme}://{split.netloc}{split.path}"
        return url, parse_qsl(split.query, keep_blank_values=True)

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        rows, units = body
        if spec.kind == "usage":
            records: list[Any] = usage_records(spec.name, rows, units)
        else:
            records = cost_records(spec.name, rows, units)
        return Page(records=records, has_more=False, next_page=None)

    def _names(self) -> list[NamedEntity]:
        return []

    def _test_connection(self) -> str:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        self._query(self.query_body(end - timedelta(days=1), end, daily=True), "probe")
        return self.connected_message


# -- the table ------------------------------------------------------------------------------


def parse_table(body: Any, where: str) -> tuple[list[str], list[list[Any]], str]:
    """``(column names, rows, nextLink)`` of a Query API answer."""
    if not isinstance(body, dict):
        raise MalformedResponse("expected a JSON object", field=where)
    props = body.get("properties")
    if not isinstance(props, dict):
        raise MalformedResponse("required field is missing", field=f"{where}.properties")
    columns = props.get("columns")
    rows = props.get("rows")
    if not isinstance(columns, list) or not all(
        isinstance(c, dict) and isinstance(c.get("name"), str) for c in columns
    ):
        raise MalformedResponse("expected a list of {name, type}", field=f"{where}.columns")
    if not isinstance(rows, list):
        raise MalformedResponse("required field is missing", field=f"{where}.properties.rows")
    names = [c["name"] for c in columns]
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(names):
            raise MalformedResponse(
                f"expected {len(names)} values", field=f"{where}.properties.rows[{i}]"
            )
    link = props.get("nextLink") or ""
    if not isinstance(link, str):
        raise MalformedResponse("expected a string", field=f"{where}.properties.nextLink")
    return names, rows, link


def _require(row: dict[str, Any], name: str, where: str) -> Any:
    if name not in row:
        raise MalformedResponse("required column is missing", field=f"{where}.{name}")
    return row[name]


def _number(value: Any, field: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise MalformedResponse(f"expected a number, got {type(value).__name__}", field=field)
    try:
        result = Decimal(value)
    except ArithmeticError:
        raise MalformedResponse("not a number", field=field) from None
    if not result.is_finite():
        raise MalformedResponse("not a finite number", field=field)
    return result


def _day(value: Any, field: str) -> datetime:
    text = str(value)
    try:
        return datetime.strptime(text[:8], "%Y%m%d").replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedResponse(f"not a date: {text[:20]!r}", field=field) from None
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def meter_units(rows: list[dict[str, Any]]) -> dict[str, int]:
    units: dict[str, int] = {}
    for i, row in enumerate(rows):
        meter = str(_require(row, "Meter", f"units[{i}]"))
        unit = str(_require(row, "UnitOfMeasure", f"units[{i}]") or "").strip().upper()
        if unit not in _UNITS:
            match = re.match(r"^(\d+)\s*([KM]?)", unit)
            if not match:
                raise MalformedResponse(f"unknown unit {unit[:20]!r}", field=f"units[{i}]")
            unit_scale = int(match.group(1)) * {"": 1, "K": 1000, "M": 1_000_000}[match.group(2)]
        else:
            unit_scale = _UNITS[unit]
        units[meter] = unit_scale
    return units


def resource_name(resource_id: str) -> str:
    """An Azure resource id's last segment (the Azure OpenAI resource's name), lower case."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1].lower() if resource_id else ""


def _rows(rows: list[dict[str, Any]], units: dict[str, int]) -> Iterator[tuple]:
    for i, row in enumerate(rows):
        where = f"rows[{i}]"
        meter = str(_require(row, "Meter", where) or "")
        model, kind, deployment = read_meter(meter)
        cost = _number(_require(row, "Cost", where), f"{where}.Cost")
        quantity = _number(row.get("UsageQuantity", 0) or 0, f"{where}.UsageQuantity")
        tokens = 0
        if kind:
            if meter not in units:
                raise MalformedResponse("no unit of measure for this meter", field=where)
            value = quantity * units[meter]
            tokens = int(value.to_integral_value())
            if abs(value - tokens) > Decimal("0.01"):
                raise MalformedResponse(f"not a whole token count: {value}", field=where)
        currency = str(row.get("Currency") or "USD").strip().upper()
        day = _day(_require(row, "UsageDate", where), f"{where}.UsageDate")
        project = resource_name(str(row.get("ResourceId") or ""))
        yield day, project, meter, model, kind, deployment, cost, tokens, currency


def usage_records(endpoint: str, rows, units) -> list[UsageRecord]:
    sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, project, _meter, model, kind, deployment, _cost, tokens, _cur in _rows(rows, units):
        if kind and tokens:
            sums[(day, model, project, deployment)][kind] += tokens
    return [
        UsageRecord(
            endpoint=endpoint,
            bucket_start=day,
            bucket_end=day + timedelta(days=1),
            model=model,
            project_id=project,
            service_tier=deployment,
            input_uncached_tokens=t["input"],
            input_cached_tokens=t["cached_input"],
            output_tokens=t["output"],
        )
        for (day, model, project, deployment), t in sorted(sums.items())
    ]


def cost_records(endpoint: str, rows, units) -> list[CostRecord]:
    sums: dict[tuple, list] = {}
    for day, project, meter, model, kind, deployment, cost, tokens, cur in _rows(rows, units):
        key = (day, cur, project, meter, model if kind else "", kind, deployment)
        acc = sums.setdefault(key, [Decimal(0), 0])
        acc[0] += cost
        acc[1] += tokens
    return [
        CostRecord(
            endpoint=endpoint,
            bucket_start=day,
            bucket_end=day + timedelta(days=1),
            amount=amount,
            currency=currency,
            project_id=project,
            line_item=meter,
            model=model,
            token_type=kind,
            service_tier=deployment,
            quantity=Decimal(tokens) if kind else None,
            quantity_unit="tokens" if kind else "",
        )
        for (day, currency, project, meter, model, kind, deployment), (amount, tokens) in sorted(
            sums.items()
        )
    ]
