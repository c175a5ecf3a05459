"""The explorer's CSV equals `manage.py spend --json` for the same options: one query."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY, FakeProviderServer
from spendapp.providers.models import ProviderAccount
from spendapp.usage.sync import sync_account


def _spend_json(*args) -> list[dict]:
    out = io.StringIO()
    call_command("spend", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def _csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def _as_csv(rows: list[dict]) -> list[dict]:
    return [{k: "" if v is None else str(v) for k, v in row.items()} for row in rows]


CASES = [
    ({"from": "2026-08-01", "to": "2026-09-10", "by": "model"}, ["--by", "model"]),
    (
        {
            "from": "2026-08-01",
            "to": "2026-09-10",
            "by": "project",
            "granularity": "week",
            "provider": "openai",
        },
        ["--by", "project", "--granularity", "week", "--filter", "provider=openai"],
    ),
    (
        {
            "from": "2026-06-01",
            "to": "2026-09-10",
            "by": "tier",
            "granularity": "month",
            "model": ["gpt-5.5", "claude-opus-4-7"],
        },
        ["--by", "tier", "--granularity", "month", "--filter", "model=gpt-5.5,claude-opus-4-7"],
    ),
    (
        {
            "from": "2026-09-09",
            "to": "2026-09-10",
            "by": "user",
            "granularity": "hour",
            "user": "(none)",
        },
        ["--by", "user", "--granularity", "hour", "--filter", "user="],
    ),
    ({"from": "2026-09-01", "to": "2026-09-10", "by": ""}, []),
]


@pytest.mark.parametrize(("params", "args"), CASES, ids=[c[0].get("by") or "total" for c in CASES])
def test_csv_equals_spend_json(finance_client, spend_data, params, args):
    rows = _csv_rows(finance_client.get("/explorer/export.csv", params))
    expected = _spend_json("--from", params["from"], "--to", params["to"], *args)
    assert expected, "the case should have data"
    assert rows == _as_csv(expected)


def test_the_page_links_to_the_csv_of_its_own_view(finance_client, spend_data):
    params = {"from": "2026-08-20", "to": "2026-09-10", "by": "api_key", "provider": "anthropic"}
    page = finance_client.get("/explorer/", params)
    link = page.context["query_string"]
    assert f'href="/explorer/export.csv?{link.replace("&", "&amp;")}"' in page.content.decode()
    rows = _csv_rows(finance_client.get(f"/explorer/export.csv?{link}"))
    assert {row["api_key"] for row in rows} == {"key_lab", ""}  # "": billed per workspace
    # Every series the page shows totals to what the CSV holds for it.
    from_csv = {}
    for row in rows:
        key = row["api_key"] or None
        from_csv[key] = from_csv.get(key, Decimal(0)) + Decimal(row["estimated_cost"])
    assert {s.key: s.parts.estimated for s in page.context["series"]} == from_csv


def test_spend_json_keeps_its_fields_and_refuses_bad_filters(spend_data):
    rows = _spend_json("--from", "2026-09-01", "--to", "2026-09-01", "--by", "provider")
    assert list(rows[0]) == [
        "date",
        "provider",
        "input_tokens",
        "cached_input_tokens",
        "output_tokens",
        "requests",
        "estimated_cost",
        "billed_cost",
        "calibrated_cost",
        "spend",
    ]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="filter: unknown field colour"):
        _spend_json("--filter", "colour=red")
    with pytest.raises(CommandError, match="--filter: expected FIELD=VALUE"):
        _spend_json("--filter", "openai")


@pytest.mark.slow
def test_csv_equals_spend_json_on_synced_fake_provider_data(finance_client):
    end = datetime(2026, 9, 10, 12, tzinfo=UTC)
    with FakeProviderServer(seed=5, days=8, end=end) as fake:
        for provider, base, key in (
            ("openai", fake.openai_base_url, DEFAULT_OPENAI_KEY),
            ("anthropic", fake.anthropic_base_url, DEFAULT_ANTHROPIC_KEY),
        ):
            account = ProviderAccount(
                name=provider, provider=provider, base_url=base, backfill_days=8
            )
            account.set_key(key)
            account.save()
            assert sync_account(account.pk, now=end).outcome == "success"
    for by in ("model", "project", "api_key", "tier"):
        params = {"from": "2026-09-02", "to": "2026-09-10", "by": by}
        rows = _csv_rows(finance_client.get("/explorer/export.csv", params))
        expected = _spend_json("--from", "2026-09-02", "--to", "2026-09-10", "--by", by)
        assert rows == _as_csv(expected)
        assert any(row["billed_cost"] for row in rows) or by in ("api_key",)
