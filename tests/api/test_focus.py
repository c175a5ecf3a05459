"""The FOCUS 1.3 export: every column FOCUS 1.3 requires, with its type, and the demo's last
month summing to the billed total to the cent (billed and allocated alike)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db.models import Sum

from spendapp.allocation.models import AllocationRule, Team
from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import CostLineItem
from spendapp.usage.sync import sync_account

pytestmark = pytest.mark.django_db

# FOCUS 1.3, Cost and Usage dataset: the Mandatory columns with their data type and whether
# they allow nulls, from the spec's column pages (specification/datasets/cost_and_usage/
# columns/*.md, "Content Constraints": Feature level Mandatory). ProviderName and
# PublisherName are deprecated in 1.3 (replaced by ServiceProviderName and
# HostProviderName) but still Mandatory in it.
FOCUS_VERSION = "1.3"
MANDATORY = {
    "BilledCost": ("Decimal", False),
    "BillingAccountId": ("String", False),
    "BillingAccountName": ("String", True),
    "BillingCurrency": ("String", False),
    "BillingPeriodEnd": ("Date/Time", False),
    "BillingPeriodStart": ("Date/Time", False),
    "ChargeCategory": ("String", False),
    "ChargeClass": ("String", True),
    "ChargeDescription": ("String", True),
    "ChargePeriodEnd": ("Date/Time", False),
    "ChargePeriodStart": ("Date/Time", False),
    "ContractedCost": ("Decimal", False),
    "EffectiveCost": ("Decimal", False),
    "HostProviderName": ("String", True),
    "InvoiceIssuerName": ("String", False),
    "ListCost": ("Decimal", False),
    "PricingQuantity": ("Decimal", True),
    "PricingUnit": ("String", True),
    "ProviderName": ("String", False),
    "PublisherName": ("String", False),
    "ServiceCategory": ("String", False),
    "ServiceName": ("String", False),
    "ServiceProviderName": ("String", False),
}
# Conditional columns this export has the data for (tokens, projects, tags, allocation).
CONDITIONAL = {
    "ConsumedQuantity": "Decimal",
    "ConsumedUnit": "String",
    "SkuId": "String",
    "SubAccountId": "String",
    "SubAccountName": "String",
    "Tags": "JSON",
}
ALLOCATED = {
    "AllocatedMethodId": "String",
    "AllocatedMethodDetails": "JSON",
    "AllocatedResourceId": "String",
    "AllocatedResourceName": "String",
    "AllocatedTags": "JSON",
}
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
SERVICE_CATEGORIES = {"AI and Machine Learning"}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
END = datetime(2026, 9, 10, 12, tzinfo=UTC)


def _check_type(column: str, kind: str, value: str, nullable: bool) -> None:
    if value == "":
        assert nullable, f"{column} must not be null"
        return
    if kind == "Decimal":
        assert NUMBER.match(value), f"{column}: {value!r} is not a decimal"
    elif kind == "Date/Time":
        assert DATETIME.match(value), f"{column}: {value!r} is not YYYY-MM-DDTHH:mm:ssZ"
    elif kind == "JSON":
        assert isinstance(json.loads(value), dict), f"{column}: {value!r} is not a JSON object"


@pytest.fixture
def demo(db):
    """The demo's data through the real sync path: the fake providers, 45 days to 10 Sep."""
    with FakeProviderServer(seed=5, days=45, end=END) as fake:
        for provider, base, key in (
            ("openai", fake.openai_base_url, DEFAULT_OPENAI_KEY),
            ("anthropic", fake.anthropic_base_url, DEFAULT_ANTHROPIC_KEY),
        ):
            account = ProviderAccount(
                name=f"Demo {provider}", provider=provider, base_url=base, backfill_days=45
            )
            account.set_key(key)
            account.save()
            assert sync_account(account.pk, now=END).outcome == "success"


def _export(api, **params) -> tuple[list[str], list[dict]]:
    response = api.get("/api/v1/exports/focus", {"month": "2026-08", **params})
    assert response.status_code == 200, response.content[:300]
    text = b"".join(response.streaming_content).decode()
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


@pytest.mark.slow
def test_focus_export_has_every_required_column_and_sums_to_the_bill(finance_api, demo):
    billed = CostLineItem.objects.filter(
        bucket_start__gte=datetime(2026, 8, 1, tzinfo=UTC),
        bucket_start__lt=datetime(2026, 9, 1, tzinfo=UTC),
    ).aggregate(total=Sum("amount"))["total"]
    assert billed and billed > 0
    columns, rows = _export(finance_api)
    assert rows
    for column, (kind, nullable) in MANDATORY.items():
        assert column in columns, f"FOCUS {FOCUS_VERSION} requires {column}"
        for row in rows:
            _check_type(column, kind, row[column], nullable)
    for column, kind in CONDITIONAL.items():
        assert column in columns
        for row in rows:
            _check_type(column, kind, row[column], True)
    custom = [c for c in columns if c not in MANDATORY and c not in CONDITIONAL]
    focus_names = {
        "BillingAccountType",
        "ChargeFrequency",
        "PricingCategory",
        "ServiceSubcategory",
        "SubAccountType",
    }
    assert all(c.startswith("x_") or c in focus_names for c in custom), custom
    assert {row["ChargeCategory"] for row in rows} <= CHARGE_CATEGORIES
    assert {row["ServiceCategory"] for row in rows} <= SERVICE_CATEGORIES
    assert {row["BillingPeriodStart"] for row in rows} == {"2026-08-01T00:00:00Z"}
    assert {row["BillingPeriodEnd"] for row in rows} == {"2026-09-01T00:00:00Z"}
    assert {row["ServiceProviderName"] for row in rows} == {"OpenAI", "Anthropic"}
    # Tokens: quantity in Tokens where the line has tokens, and the token types FOCUS lacks.
    with_tokens = [r for r in rows if r["ConsumedQuantity"]]
    assert with_tokens
    for row in with_tokens:
        assert row["ConsumedUnit"] == row["PricingUnit"] == "Tokens"
        parts = sum(
            int(row[c])
            for c in (
                "x_InputUncachedTokens",
                "x_CacheReadTokens",
                "x_CacheWrite5mTokens",
                "x_CacheWrite1hTokens",
                "x_OutputTokens",
            )
        )
        assert Decimal(row["ConsumedQuantity"]) == parts
    total = sum(Decimal(r["BilledCost"]) for r in rows)
    assert total.quantize(Decimal("0.01")) == billed.quantize(Decimal("0.01"))

    # JSON Lines: the same rows, typed.
    response = finance_api.get("/api/v1/exports/focus", {"month": "2026-08", "format": "jsonl"})
    lines = [json.loads(line) for line in b"".join(response.streaming_content).splitlines()]
    assert len(lines) == len(rows)
    assert isinstance(lines[0]["BilledCost"], int | float)
    assert isinstance(lines[0]["Tags"], dict)

    # Allocated: one team takes a project; the split still sums to the bill.
    team = Team.objects.create(name="Support", code="CC-1")
    project = next(r["SubAccountId"] for r in rows if r["SubAccountId"])
    AllocationRule.objects.create(
        dimension="project", value=project, team=team, valid_from=datetime(2026, 1, 1).date()
    )
    from spendapp.allocation.engine import recompute_allocation

    recompute_allocation(datetime(2026, 7, 1).date(), datetime(2026, 9, 10).date())
    columns, allocated = _export(finance_api, allocated="true")
    for column, kind in ALLOCATED.items():
        assert column in columns
        for row in allocated:
            _check_type(column, kind, row[column], True)
    mine = [r for r in allocated if r["AllocatedResourceName"] == "Support"]
    assert mine and {r["AllocatedResourceId"] for r in mine} == {"team/CC-1"}
    assert all(r["SubAccountId"] == project for r in mine)
    total = sum(Decimal(r["BilledCost"]) for r in allocated)
    assert total.quantize(Decimal("0.01")) == billed.quantize(Decimal("0.01"))


def test_focus_export_refuses_bad_parameters(finance_api):
    for params, field in (({"month": "2026-13"}, "month"), ({"format": "xlsx"}, "format")):
        response = finance_api.get("/api/v1/exports/focus", params)
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field
