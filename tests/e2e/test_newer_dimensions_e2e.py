"""End to end (real Celery worker, loopback fake providers) for issue #15's OpenAI and
Anthropic changes: with every OpenAI usage kind, the newer groupings and the Claude Code
report synced, `spend --json` still equals the truth to the cent; the usage-detail rollup
holds exactly the usage of the spend rollups; Claude Code activity is stored beside spend;
a second sync changes no row of any of them."""

from __future__ import annotations

import pytest
from django.db.models import F, Sum

from spendapp.providers.fake import FakeProviderServer
from spendapp.usage.models import ClaudeCodeUsage, DailySpend, DailyUsageDetail
from tests.e2e.test_ingestion_e2e import _accounts, _sync_all, assert_matches_truth

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _usage_totals(model) -> dict[str, tuple]:
    rows = model.objects.values("provider").annotate(
        tokens=Sum(F("input_uncached_tokens") + F("output_tokens")), requests=Sum("requests")
    )
    return {r["provider"]: (r["tokens"], r["requests"]) for r in rows}


def test_newer_dimensions_and_claude_code_sync_exactly_and_idempotently(workers):
    with FakeProviderServer(seed=21, days=60, faults="429=0.03,500=0.02") as fake:
        accounts = _accounts(fake)
        workers.start()
        runs = _sync_all(workers, accounts)
        assert {r.outcome for r in runs} == {"success"}, [r.error for r in runs]
        assert_matches_truth(fake)

        assert _usage_totals(DailyUsageDetail) == _usage_totals(DailySpend)
        service_accounts = set(
            DailyUsageDetail.objects.exclude(service_account_id="").values_list(
                "service_account_id", flat=True
            )
        )
        assert service_accounts == {"svac_01AgentsPipeline"}
        assert DailyUsageDetail.objects.filter(provider="openai", api_source="api").exists()
        claude_code = ClaudeCodeUsage.objects.count()
        assert claude_code > 0

        reruns = _sync_all(workers, accounts)
        assert [(r.outcome, r.rows_inserted, r.rows_updated, r.rows_deleted) for r in reruns] == [
            ("success", 0, 0, 0)
        ] * len(accounts)
        assert ClaudeCodeUsage.objects.count() == claude_code
        assert_matches_truth(fake)
