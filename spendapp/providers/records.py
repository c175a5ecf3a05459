"""What a connector hands to ingestion: provider-neutral usage and cost records.

Connectors parse the providers' pages into these records and nothing else; ingestion never
sees provider JSON. Every grouping dimension is a string and ``""`` means "not grouped / not
reported", so the natural key has no NULLs (a NULL would make two equal keys distinct under a
unique constraint).

Token counts are split so that they add up: total input = ``input_uncached_tokens +
input_cached_tokens + cache_write_tokens + cache_write_1h_tokens``. Audio counts are subsets
of those (kept for pricing and display), never added again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Anthropic reports the default workspace as ``workspace_id: null`` while grouping by
# workspace; it is a real workspace, so it gets a stable id of its own.
DEFAULT_WORKSPACE_ID = "default"


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """Token usage of one bucket for one combination of dimensions."""

    endpoint: str  # "openai.completions", "anthropic.messages", ...
    bucket_start: datetime  # UTC, aware
    bucket_end: datetime  # UTC, aware, exclusive
    model: str = ""
    project_id: str = ""  # OpenAI project id / Anthropic workspace id
    api_key_id: str = ""
    user_id: str = ""
    service_tier: str = ""
    batch: str = ""  # "", "true", "false"
    context_window: str = ""
    api_source: str = ""  # OpenAI: where the request came from (API, Codex, ...)
    inference_geo: str = ""  # Anthropic: global / us / not_available
    speed: str = ""  # Anthropic: standard / fast (fast mode is priced higher)
    service_account_id: str = ""  # Anthropic service account
    input_uncached_tokens: int = 0
    input_cached_tokens: int = 0  # cache reads
    cache_write_tokens: int = 0  # OpenAI cache writes / Anthropic 5-minute cache writes
    cache_write_1h_tokens: int = 0  # Anthropic 1-hour cache writes
    output_tokens: int = 0
    input_audio_tokens: int = 0  # subset of input (uncached audio)
    output_audio_tokens: int = 0  # subset of output
    requests: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # other measures (web searches, images)

    @property
    def input_tokens(self) -> int:
        """Every input token, cached or not."""
        return (
            self.input_uncached_tokens
            + self.input_cached_tokens
            + self.cache_write_tokens
            + self.cache_write_1h_tokens
        )

    def dimensions(self) -> tuple[str, ...]:
        return (
            self.model,
            self.project_id,
            self.api_key_id,
            self.user_id,
            self.service_tier,
            self.batch,
            self.context_window,
            self.api_source,
            self.inference_geo,
            self.speed,
            self.service_account_id,
        )


@dataclass(frozen=True, slots=True)
class CostRecord:
    """Billed cost of one daily bucket for one line item, in currency units (not cents)."""

    endpoint: str  # "openai.costs", "anthropic.cost_report"
    bucket_start: datetime
    bucket_end: datetime
    amount: Decimal  # dollars (or the currency's unit); Anthropic cents already divided by 100
    currency: str  # ISO 4217, upper case
    project_id: str = ""
    api_key_id: str = ""
    line_item: str = ""  # OpenAI line_item / Anthropic description, verbatim
    model: str = ""
    token_type: str = ""  # input / cached_input / cache_write / cache_write_1h / output / ""
    service_tier: str = ""
    context_window: str = ""
    cost_type: str = ""  # Anthropic: tokens / web_search / code_execution / session_usage
    inference_geo: str = ""
    speed: str = ""
    quantity: Decimal | None = None
    quantity_unit: str = ""

    def dimensions(self) -> tuple[str, ...]:
        return (
            self.project_id,
            self.api_key_id,
            self.line_item,
            self.model,
            self.token_type,
            self.service_tier,
            self.context_window,
            self.cost_type,
            self.inference_geo,
            self.speed,
        )


@dataclass(frozen=True, slots=True)
class ClaudeCodeRecord:
    """One record of Anthropic's Claude Code usage report: an actor's day on one terminal,
    local or remote. Its cost is Anthropic's estimate, already inside the cost report for API
    customers: it is activity, never spend."""

    endpoint: str  # "anthropic.claude_code"
    day: date  # UTC
    actor_type: str  # "user_actor" / "api_actor"
    actor: str  # e-mail address or API key name
    terminal_type: str = ""
    is_remote: bool = False
    customer_type: str = ""  # "api" / "subscription"
    subscription_type: str = ""  # "enterprise" / "team" / ""
    sessions: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    commits: int = 0
    pull_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    estimated_cost: Decimal = Decimal(0)  # dollars (the report's cents / 100), every model
    currency: str = "USD"
    models: dict[str, Any] = field(default_factory=dict)  # model -> tokens and cost
    tool_actions: dict[str, Any] = field(default_factory=dict)

    def natural_key(self) -> tuple:
        return (self.day, self.actor_type, self.actor, self.terminal_type, self.is_remote)


@dataclass(frozen=True, slots=True)
class BalanceRecord:
    """A prepaid credit balance as the provider reports it at ``observed_at``.

    ``amount`` is what is left to spend (OpenRouter: ``total_credits - total_usage``; DeepSeek:
    ``total_balance`` of one currency). ``granted`` and ``topped_up`` split it where the
    provider does (DeepSeek), else ``None``. ``available`` is the provider's own "can the API
    be called" flag where it has one (DeepSeek ``is_available``).
    """

    observed_at: datetime  # UTC, aware
    currency: str  # ISO 4217, upper case
    amount: Decimal
    granted: Decimal | None = None
    topped_up: Decimal | None = None
    available: bool | None = None
    total_credits: Decimal | None = None  # OpenRouter: every credit ever bought or granted
    total_usage: Decimal | None = None  # OpenRouter: every credit ever spent


@dataclass(frozen=True, slots=True)
class Page:
    """One page as fetched: its records and whether the window has more."""

    records: list[UsageRecord] | list[CostRecord] | list[ClaudeCodeRecord]
    has_more: bool
    next_page: str | None


@dataclass(frozen=True, slots=True)
class NamedEntity:
    """A project / workspace / API key / user with its display name."""

    kind: str  # "project", "api_key", "user"
    id: str
    name: str
    parent_id: str = ""  # project of an API key
