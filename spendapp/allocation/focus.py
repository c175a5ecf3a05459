"""FOCUS 1.3 export of a month's spend: billed spend per day, account, project, model and
API key (from `DailySpend`), or the same split per team by the allocation rules, with the
``Allocated*`` columns (from `AllocatedSpend`). CSV or JSON Lines, streamed.

Column meanings (FOCUS 1.3, Cost and Usage dataset):

* ``BilledCost``: the provider's bill (0 where the day is not billed yet, or the provider
  billed at a coarser grain than the row); the month's rows sum to the billed total exactly.
  ``EffectiveCost`` and ``ContractedCost`` equal it (no commitment discounts are known);
  ``ListCost`` is the list-price estimate (the catalog and the admin's price overrides).
* ``ServiceProviderName`` (1.3) and the deprecated ``ProviderName`` / ``PublisherName``: the
  model's provider; ``HostProviderName`` the cloud that hosts it (AWS for Bedrock, Microsoft
  for Azure OpenAI, else the provider); ``InvoiceIssuerName`` who invoices.
* ``ConsumedQuantity`` / ``PricingQuantity`` in ``Tokens`` where the row has tokens (null
  otherwise); the token types FOCUS has no column for are ``x_InputUncachedTokens``,
  ``x_CacheReadTokens``, ``x_CacheWrite5mTokens``, ``x_CacheWrite1hTokens``,
  ``x_OutputTokens``; ``x_Requests``; ``x_Spend`` is Spendapp's one number (billed where
  billed, else the calibrated estimate).
* Allocated rows: ``AllocatedMethodId`` names the method (a rule, a shared-cost pool),
  ``AllocatedMethodDetails`` the rule and pool, ``AllocatedResourceId`` / ``Name`` the team,
  ``AllocatedTags`` the team and its cost centre. Unallocated spend has them null.

Times are UTC (the rollup's days), ``YYYY-MM-DDTHH:mm:ssZ``; periods are end-exclusive.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Sum

from spendapp.allocation.models import AllocatedSpend, AllocationRule, SharedCost, Team
from spendapp.core.csvfiles import SafeDictWriter
from spendapp.providers.models import PROVIDER_CHOICES, ProviderEntity
from spendapp.usage.models import DailySpend

FOCUS_VERSION = "1.3"
# Column -> FOCUS data type, in export order.
COLUMNS: dict[str, str] = {
    "BilledCost": "Decimal",
    "BillingAccountId": "String",
    "BillingAccountName": "String",
    "BillingAccountType": "String",
    "BillingCurrency": "String",
    "BillingPeriodEnd": "Date/Time",
    "BillingPeriodStart": "Date/Time",
    "ChargeCategory": "String",
    "ChargeClass": "String",
    "ChargeDescription": "String",
    "ChargeFrequency": "String",
    "ChargePeriodEnd": "Date/Time",
    "ChargePeriodStart": "Date/Time",
    "ConsumedQuantity": "Decimal",
    "ConsumedUnit": "String",
    "ContractedCost": "Decimal",
    "EffectiveCost": "Decimal",
    "HostProviderName": "String",
    "InvoiceIssuerName": "String",
    "ListCost": "Decimal",
    "PricingCategory": "String",
    "PricingQuantity": "Decimal",
    "PricingUnit": "String",
    "ProviderName": "String",
    "PublisherName": "String",
    "ServiceCategory": "String",
    "ServiceName": "String",
    "ServiceProviderName": "String",
    "ServiceSubcategory": "String",
    "SkuId": "String",
    "SubAccountId": "String",
    "SubAccountName": "String",
    "SubAccountType": "String",
    "Tags": "JSON",
    "x_ApiKeyId": "String",
    "x_InputUncachedTokens": "Decimal",
    "x_CacheReadTokens": "Decimal",
    "x_CacheWrite5mTokens": "Decimal",
    "x_CacheWrite1hTokens": "Decimal",
    "x_OutputTokens": "Decimal",
    "x_Requests": "Decimal",
    "x_Spend": "Decimal",
}
ALLOCATED_COLUMNS: dict[str, str] = {
    "AllocatedMethodId": "String",
    "AllocatedMethodDetails": "JSON",
    "AllocatedResourceId": "String",
    "AllocatedResourceName": "String",
    "AllocatedTags": "JSON",
}
_NAMES = dict(PROVIDER_CHOICES)
_HOSTS = {"bedrock": "Amazon Web Services", "azure_openai": "Microsoft"}
_TOKENS = (
    ("x_InputUncachedTokens", "input_uncached_tokens"),
    ("x_CacheReadTokens", "input_cached_tokens"),
    ("x_CacheWrite5mTokens", "cache_write_tokens"),
    ("x_CacheWrite1hTokens", "cache_write_1h_tokens"),
    ("x_OutputTokens", "output_tokens"),
)
ZERO = Decimal(0)


def columns(*, allocated: bool = False) -> list[str]:
    return [*COLUMNS, *(ALLOCATED_COLUMNS if allocated else ())]


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _month_end(month: date) -> date:
    """The first day of the next month (periods are end-exclusive)."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _provider_name(provider: str) -> str:
    return _NAMES.get(provider, provider).split(" (")[0]


def _rows(month: date, allocated: bool):
    measures = {
        "billed": Sum("billed_cost"),
        "estimated": Sum("estimated_cost"),
        "spend_sum": Sum("spend"),
        "requests_sum": Sum("requests"),
        **{f"t_{column}": Sum(column) for _, column in _TOKENS},
    }
    keys = ["day", "provider", "account_id", "account__name", "project_id", "model", "api_key_id"]
    order = ["day", "provider", "account_id", "project_id", "model", "api_key_id"]
    source = AllocatedSpend if allocated else DailySpend
    if allocated:
        keys += ["team_id", "cost_centre_id", "rule_id", "shared_cost_id"]
        order += ["team_id", "rule_id", "shared_cost_id"]
    return (
        source.objects.filter(day__gte=month, day__lt=_month_end(month))
        .values(*keys)
        .annotate(**measures)
        .order_by(*order)
    )


def focus_rows(month: date, *, allocated: bool = False) -> Iterator[dict]:
    """The month's FOCUS rows (values typed: Decimal, str, None), in a stable order."""
    month = month.replace(day=1)
    period = (_iso(month), _iso(_month_end(month)))
    currency = settings.ORG_CURRENCY
    projects = {
        (a, e): n
        for a, e, n in ProviderEntity.objects.filter(kind="project").values_list(
            "account_id", "external_id", "name"
        )
    }
    teams = {t.pk: t for t in Team.objects.all()} if allocated else {}
    rules = dict(AllocationRule.objects.values_list("pk", "dimension")) if allocated else {}
    pools = dict(SharedCost.objects.values_list("pk", "name")) if allocated else {}
    for r in _rows(month, allocated).iterator(chunk_size=5000):
        provider = _provider_name(r["provider"])
        billed = r["billed"] or ZERO
        tokens = sum((r[f"t_{c}"] or 0) for _, c in _TOKENS)
        row = {
            "BilledCost": billed,
            "BillingAccountId": str(r["account_id"]),
            "BillingAccountName": r["account__name"],
            "BillingAccountType": "Provider Account",
            "BillingCurrency": currency,
            "BillingPeriodEnd": period[1],
            "BillingPeriodStart": period[0],
            "ChargeCategory": "Usage",
            "ChargeClass": None,
            "ChargeDescription": f"{provider} {r['model'] or 'usage'}",
            "ChargeFrequency": "Usage-Based",
            "ChargePeriodEnd": _iso(r["day"] + timedelta(days=1)),
            "ChargePeriodStart": _iso(r["day"]),
            "ConsumedQuantity": Decimal(tokens) if tokens else None,
            "ConsumedUnit": "Tokens" if tokens else None,
            "ContractedCost": billed,
            "EffectiveCost": billed,
            "HostProviderName": _HOSTS.get(r["provider"], provider),
            "InvoiceIssuerName": _HOSTS.get(r["provider"], provider),
            "ListCost": r["estimated"] or ZERO,
            "PricingCategory": "Standard",
            "PricingQuantity": Decimal(tokens) if tokens else None,
            "PricingUnit": "Tokens" if tokens else None,
            "ProviderName": provider,
            "PublisherName": provider,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": f"{provider} API",
            "ServiceProviderName": provider,
            "ServiceSubcategory": "Generative AI",
            "SkuId": r["model"] or None,
            "SubAccountId": r["project_id"] or None,
            "SubAccountName": projects.get((r["account_id"], r["project_id"])) or None,
            "SubAccountType": "Project" if r["project_id"] else None,
            "Tags": {},
            "x_ApiKeyId": r["api_key_id"] or None,
            **{name: Decimal(r[f"t_{column}"] or 0) for name, column in _TOKENS},
            "x_Requests": Decimal(r["requests_sum"] or 0),
            "x_Spend": r["spend_sum"] or ZERO,
        }
        if allocated:
            row.update(_allocation(r, teams, rules, pools))
        yield row


def _allocation(r: dict, teams: dict, rules: dict, pools: dict) -> dict:
    team = teams.get(r["team_id"])
    if team is None:
        return dict.fromkeys(ALLOCATED_COLUMNS)
    centre = teams.get(r["cost_centre_id"])
    details: dict = {"x_Team": team.name}
    if r["rule_id"]:
        details["x_RuleId"] = r["rule_id"]
        details["x_RuleDimension"] = rules.get(r["rule_id"], "")
    if r["shared_cost_id"]:
        details["x_SharedCost"] = pools.get(r["shared_cost_id"], str(r["shared_cost_id"]))
    tags = {"team": team.name}
    if team.code:
        tags["team_code"] = team.code
    if centre:
        tags["cost_centre"] = centre.name
        if centre.code:
            tags["cost_centre_code"] = centre.code
    method = "spendapp-shared-cost" if r["shared_cost_id"] else "spendapp-allocation-rule"
    return {
        "AllocatedMethodId": method,
        "AllocatedMethodDetails": details,
        "AllocatedResourceId": f"team/{team.code or team.pk}",
        "AllocatedResourceName": team.name,
        "AllocatedTags": tags,
    }


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, Decimal):
        text = f"{value.normalize():f}"
        return "0" if text in ("-0", "") else text
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def as_csv(rows: Iterable[dict], *, allocated: bool = False) -> Iterator[str]:
    """CSV text, header first, a chunk of rows at a time (null is an empty cell)."""
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=columns(allocated=allocated))
    writer.writeheader()
    for i, row in enumerate(rows, 1):
        writer.writerow({k: _cell(v) for k, v in row.items()})
        if i % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _json_value(value) -> str:
    if isinstance(value, Decimal):
        return _cell(value)  # a JSON number, exact (no float rounding)
    return json.dumps(value, sort_keys=True)


def as_jsonl(rows: Iterable[dict]) -> Iterator[str]:
    """One JSON object per line; decimals are exact JSON numbers, JSON columns objects."""
    chunk = []
    for i, row in enumerate(rows, 1):
        chunk.append(
            "{" + ",".join(f"{json.dumps(k)}:{_json_value(v)}" for k, v in row.items()) + "}\n"
        )
        if i % 500 == 0:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)
