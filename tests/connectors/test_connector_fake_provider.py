"""Both connectors against the fake provider server: totals must equal its ground truth."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spendapp.providers.connectors import Connector, HttpClient, get_connector
from spendapp.providers.errors import MalformedResponse, ProviderAuthError
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.records import CostRecord, UsageRecord

END = datetime(2026, 5, 20, tzinfo=UTC)
DAYS = 5
START = END - timedelta(days=DAYS)
Key = tuple[str, str, str, str]


@pytest.fixture
def fake():
    server = FakeProviderServer(port=0, seed=1, days=DAYS, end="2026-05-20T00", timeout_delay=0.5)
    server.start()
    yield server
    server.stop()


def connectors(fake, client) -> list[Connector]:
    return [
        get_connector("openai", fake.openai_base_url, fake.openai_key, client=client),
        get_connector("anthropic", fake.anthropic_base_url, fake.anthropic_key, client=client),
    ]


def fetch_all(conns: list[Connector], page_limit: int = 0):
    """Sum usage and cost per (date, provider, model, project), splitting by max_window."""
    tokens: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    costs: dict[Key, Decimal] = defaultdict(Decimal)
    for conn in conns:
        for spec in conn.endpoints():
            if spec.kind == "activity":
                continue  # Claude Code: activity, never spend (test_anthropic_claude_code.py)
            if page_limit:
                spec = dataclasses.replace(spec, page_limit=page_limit)
            start = START
            while start < END:
                end = min(END, start + spec.max_window)
                for page in conn.fetch_pages(spec, start, end):
                    for rec in page.records:
                        key = (
                            rec.bucket_start.date().isoformat(),
                            conn.provider,
                            rec.model,
                            rec.project_id,
                        )
                        if isinstance(rec, UsageRecord):
                            t = tokens[key]
                            t[0] += rec.input_tokens
                            t[1] += rec.output_tokens
                            t[2] += rec.requests
                        else:
                            assert isinstance(rec, CostRecord) and rec.currency == "USD"
                            costs[key] += rec.amount
                start = end
    return tokens, costs


def truth_totals(fake):
    tokens: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    costs: dict[Key, Decimal] = defaultdict(Decimal)
    for row in fake.truth():
        if row["provider"] not in ("openai", "anthropic"):
            continue  # this file reads these two; OpenRouter: tests/connectors/test_openrouter.py
        key = (row["date"], row["provider"], row["model"] or "", row["project"])
        t = tokens[key]
        t[0] += row["input_tokens"]
        t[1] += row["output_tokens"]
        t[2] += row["requests"]
        costs[key] += Decimal(row["billed_cost"])
    return (
        {k: v for k, v in tokens.items() if any(v)},
        {k: v for k, v in costs.items() if v},
    )


def compare(fake, conns, page_limit: int = 0):
    tokens, costs = fetch_all(conns, page_limit)
    want_tokens, want_costs = truth_totals(fake)
    assert want_tokens and want_costs
    assert dict(tokens) == want_tokens
    assert {k: v for k, v in costs.items() if v} == want_costs
    for provider in ("openai", "anthropic"):  # a x100 error would show here too
        got = sum(v for k, v in costs.items() if k[1] == provider)
        want = sum(v for k, v in want_costs.items() if k[1] == provider)
        assert got == want and got > 0


def test_totals_match_truth(fake):
    client = HttpClient(connect_timeout=1, read_timeout=5, sleep=lambda s: None)
    conns = connectors(fake, client)
    compare(fake, conns)
    assert fake.request_log["openai.costs"] == 1  # 5 daily buckets: one page at limit 180


def test_totals_match_truth_through_faults(fake):
    fake.set_faults("429=0.15,500=0.1,502=0.05,529=0.05,cutoff=0.05,timeout:1=0.03")
    sleeps: list[float] = []
    client = HttpClient(connect_timeout=1, read_timeout=0.3, max_attempts=12, sleep=sleeps.append)
    compare(fake, connectors(fake, client))


def test_totals_match_truth_over_many_small_pages(fake):
    client = HttpClient(sleep=lambda s: None)
    compare(fake, connectors(fake, client), page_limit=5)
    log = fake.request_log
    assert log["openai.usage.completions"] == 24  # 120 hourly buckets / 5 per page
    assert log["anthropic.usage.messages"] == 24
    assert log["openai.costs"] == 1 and log["anthropic.cost_report"] == 1


def test_names_and_connection(fake):
    client = HttpClient(sleep=lambda s: None)
    for conn in connectors(fake, client):
        assert conn.test_connection()
        names = conn.names()
        kinds = {n.kind for n in names}
        assert {"project", "api_key"} <= kinds
        assert all(n.id for n in names)


def test_revoked_key_and_malformed_page(fake):
    client = HttpClient(sleep=lambda s: None)
    openai, anthropic = connectors(fake, client)
    fake.set_faults("revoke@anthropic")
    with pytest.raises(ProviderAuthError) as info:
        anthropic.test_connection()
    assert fake.anthropic_key not in str(info.value)
    fake.reset()
    fake.set_faults("truncated@openai.costs#1")
    with pytest.raises(MalformedResponse) as minfo:
        list(openai.fetch_pages("openai.costs", START, END))
    assert minfo.value.field
