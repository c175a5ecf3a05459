"""The fake Claude Code usage report (``/v1/organizations/usage_report/claude_code``).

Shape from Anthropic's "Get Claude Code Usage Report" reference: one record per actor, day,
terminal and local/remote, with core metrics, tool actions and a per-model breakdown whose
``estimated_cost.amount`` is a number in **cents**. The cast is data (`CAST`); the counts are
a deterministic function of (seed, day, actor), so a re-read answers the same. These costs
are estimates already inside the cost report: they are never part of the truth's spend.
"""

from __future__ import annotations

import hashlib
from typing import Any

# (actor, terminal_type, is_remote, model, customer_type, subscription_type)
CAST = (
    ({"type": "user_actor", "email_address": "ann@example.com"}, "vscode", False,
     "claude-sonnet-4-6", "api", None),
    ({"type": "user_actor", "email_address": "bo@example.com"}, "iTerm.app", False,
     "claude-opus-4-6", "api", None),
    ({"type": "user_actor", "email_address": "bo@example.com"}, "web", True,
     "claude-sonnet-4-6", "api", None),
    ({"type": "api_actor", "api_key_name": "ci-review-bot"}, "non-interactive", True,
     "claude-haiku-4-5", "api", None),
)  # fmt: skip
# $ per million tokens (input, output, cache read, cache write) for the estimate, in cents.
CENTS_PER_MTOK = {
    "claude-sonnet-4-6": (300, 1500, 30, 375),
    "claude-opus-4-6": (500, 2500, 50, 625),
    "claude-haiku-4-5": (100, 500, 10, 125),
}


def _draw(seed: int, day: int, index: int, what: str, top: int) -> int:
    digest = hashlib.sha256(f"{seed}:{day}:{index}:{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % top


def records_of_day(seed: int, day: int, date_text: str, organization_id: str) -> list[dict]:
    """The day's records (``day``: days since the epoch; weekends are quiet)."""
    out = []
    for i, (actor, terminal, remote, model, customer, subscription) in enumerate(CAST):
        sessions = _draw(seed, day, i, "sessions", 9)
        if sessions == 0:
            continue
        tokens = {
            "input": sessions * (20_000 + _draw(seed, day, i, "in", 40_000)),
            "output": sessions * (2_000 + _draw(seed, day, i, "out", 6_000)),
            "cache_read": sessions * _draw(seed, day, i, "cr", 200_000),
            "cache_creation": sessions * _draw(seed, day, i, "cw", 30_000),
        }
        rates = CENTS_PER_MTOK[model]
        counts = (tokens["input"], tokens["output"], tokens["cache_read"], tokens["cache_creation"])
        cents = sum(n * r for n, r in zip(counts, rates, strict=True)) / 1_000_000
        out.append(
            {
                "date": f"{date_text}T00:00:00Z",
                "actor": dict(actor),
                "organization_id": organization_id,
                "customer_type": customer,
                "subscription_type": subscription,
                "terminal_type": terminal,
                "is_remote": remote,
                "core_metrics": {
                    "num_sessions": sessions,
                    "lines_of_code": {
                        "added": sessions * _draw(seed, day, i, "add", 400),
                        "removed": sessions * _draw(seed, day, i, "rm", 150),
                    },
                    "commits_by_claude_code": _draw(seed, day, i, "commits", 5),
                    "pull_requests_by_claude_code": _draw(seed, day, i, "prs", 2),
                },
                "tool_actions": {
                    "edit_tool": {"accepted": sessions * 4, "rejected": sessions // 3},
                    "write_tool": {"accepted": sessions, "rejected": 0},
                },
                "model_breakdown": [
                    {
                        "model": model,
                        "tokens": tokens,
                        "estimated_cost": {"amount": round(cents, 4), "currency": "USD"},
                    }
                ],
            }
        )
    return out


def page(records: list[dict], position: int, limit: int) -> tuple[list[dict], int | None]:
    """One page from ``position``; the next position, or None at the end."""
    chunk = records[position : position + limit]
    nxt = position + limit
    return chunk, (nxt if nxt < len(records) else None)


def response(data: list[dict[str, Any]], next_page: str | None) -> dict[str, Any]:
    return {"data": data, "has_more": next_page is not None, "next_page": next_page}
