"""The generated organisation: projects, keys, users, hourly usage, daily costs, ground truth.

Size (~1,200 lines): the cast (projects, keys, models, the migration, the spike) is still
written as code here; moving the cast to a data file is open work.

Everything is deterministic from ``(seed, days, end)``. Usage is generated per *series* (one
combination of every dimension an API can group by) at hourly resolution with numpy; coarser
buckets are sums of hours, minute buckets are a deterministic integer split of each hour.

Money is kept in integers so that every emitted amount is exact:

* OpenAI cost cells are quantized to micro-dollars (6 decimals of a dollar),
* Anthropic cost cells to 1e-7 dollars (= 5 decimals of a cent).

A cost *cell* is the finest grain a cost endpoint can group by (OpenAI: day x project x API key
x line item; Anthropic: day x workspace x description). Coarser groupings are exact integer sums
of cells, so any grouping adds up to the ground truth to the last emitted digit.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np

HOUR = 3600
DAY = 86400

# ---------------------------------------------------------------------------------------------
# Prices: base-tier list prices in dollars per million tokens, the same numbers the
# ``genai-prices`` catalog holds for these models (long-context tiers are ignored).
# ---------------------------------------------------------------------------------------------
PRICES: dict[str, dict[str, dict[str, str]]] = {
    "openai": {
        "gpt-5.5": {"input": "5", "cached_input": "0.5", "output": "30"},
        "gpt-5.4": {"input": "2.5", "cached_input": "0.25", "output": "15"},
        "gpt-5.4-mini": {"input": "0.75", "cached_input": "0.075", "output": "4.5"},
        "gpt-5.4-nano": {"input": "0.2", "cached_input": "0.02", "output": "1.25"},
    },
    "anthropic": {
        "claude-opus-4-7": {
            "input": "5",
            "cache_read": "0.5",
            "cache_write_5m": "6.25",
            "cache_write_1h": "10",
            "output": "25",
        },
        "claude-sonnet-4-6": {
            "input": "3",
            "cache_read": "0.3",
            "cache_write_5m": "3.75",
            "cache_write_1h": "6",
            "output": "15",
        },
        "claude-haiku-4-5": {
            "input": "1",
            "cache_read": "0.1",
            "cache_write_5m": "1.25",
            "cache_write_1h": "2",
            "output": "5",
        },
    },
}
WEB_SEARCH_DOLLARS_PER_1000 = 10
# Price multipliers in percent by service tier / batch.
OPENAI_TIER_PCT = {"default": 100, "flex": 50, "priority": 200, "batch": 50}
ANTHROPIC_TIER_PCT = {"standard": 100, "batch": 50}
# Negotiated discount: billed = list x pct / 100.
DISCOUNT_PCT = {"openai": 100, "anthropic": 94}

ANTHROPIC_DISPLAY = {
    "claude-opus-4-7": "Claude Opus 4.7",
    "claude-sonnet-4-6": "Claude Sonnet 4.6",
    "claude-haiku-4-5": "Claude Haiku 4.5",
}

# Measure layout of the hourly arrays.
OA_MEASURES = ("requests", "input_uncached", "input_cached", "output", "web_search")
AN_MEASURES = (
    "requests",  # hidden: Anthropic reports no request count; used to split minutes
    "uncached",
    "cache_read",
    "cw5m",
    "cw1h",
    "output",
    "web_search",
)
OA = {m: i for i, m in enumerate(OA_MEASURES)}
AN = {m: i for i, m in enumerate(AN_MEASURES)}

# Quantum of emitted money, in units of 1e-13 dollars (the exact integer cost unit below).
OA_QUANT = 10**7  # -> micro-dollars
AN_QUANT = 10**6  # -> 1e-7 dollars (1e-5 cents)
OA_DECIMALS = 6  # decimals of a dollar in OpenAI amounts
AN_CENT_DECIMALS = 5  # decimals of a cent in Anthropic amounts


def price_milli(price: str) -> int:
    """Dollars per million tokens -> integer thousandths of a dollar per million tokens."""
    value = Decimal(price) * 1000
    if value != value.to_integral_value():
        raise ValueError(f"price {price} has more than 3 decimals")
    return int(value)


def div_round_half_even(a: int, b: int) -> int:
    q, r = divmod(a, b)
    if 2 * r > b or (2 * r == b and q % 2 == 1):
        q += 1
    return q


def parse_end(end: object) -> int:
    """``end`` (None, datetime, date, unix int, or 'YYYY-MM-DD[THH[:MM[:SS]]][Z]') -> unix s.

    The result is floored to the start of its UTC hour. None means the start of the current hour.
    """
    if end is None:
        dt = datetime.now(UTC)
    elif isinstance(end, bool):
        raise TypeError("end must be a datetime, date, int or string")
    elif isinstance(end, int | float):
        dt = datetime.fromtimestamp(int(end), UTC)
    elif isinstance(end, datetime):
        dt = end if end.tzinfo else end.replace(tzinfo=UTC)
    elif isinstance(end, date):
        dt = datetime(end.year, end.month, end.day, tzinfo=UTC)
    elif isinstance(end, str):
        text = end.strip().rstrip("Z").rstrip("z")
        if len(text) == 13 and text[10] in "T ":  # YYYY-MM-DDTHH
            text += ":00"
        dt = datetime.fromisoformat(text)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    else:
        raise TypeError(f"unsupported end: {end!r}")
    ts = int(dt.astimezone(UTC).timestamp())
    return ts - ts % HOUR


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def day_str(day_index: int) -> str:
    return (date(1970, 1, 1) + timedelta(days=day_index)).isoformat()


# ---------------------------------------------------------------------------------------------
# Organisation structure
# ---------------------------------------------------------------------------------------------


@dataclass
class Series:
    """One combination of all dimensions, with its workload parameters."""

    provider: str
    model: str
    project_id: str | None  # OpenAI project / Anthropic workspace (None = default workspace)
    api_key_id: str | None  # Anthropic: None for Console Workbench usage
    user_id: str | None = None  # OpenAI only; None for service-account keys
    batch: bool = False  # OpenAI
    service_tier: str = "default"  # OpenAI default/flex/priority, Anthropic standard/batch
    context_window: str | None = None  # Anthropic
    api_source: str = "api"  # OpenAI completions; an opaque label (not in the 2.3.0 spec)
    inference_geo: str = "global"  # Anthropic (newer groupings)
    speed: str = "standard"  # Anthropic
    service_account_id: str | None = None  # Anthropic: usage by a service account
    req_per_hour: float = 10.0
    in_per_req: float = 3000.0
    cache_frac: float = 0.4
    out_per_req: float = 500.0
    cw5m_frac: float = 0.0
    cw1h_frac: float = 0.0
    web_per_req: float = 0.0
    profile: str = "interactive"  # interactive | batch
    active: tuple[float, float] = (0.0, 1.0)  # fraction of the period the series is active
    spike: bool = False
    migrate_out: float = 0.0  # share of traffic moved away during the migration
    migrate_from: int | None = None  # index of the series whose traffic this one receives


@dataclass
class CostCells:
    """Cost cells of one provider: dims per cell, amounts (cells x days) in quanta."""

    dims: list[dict]
    amounts: np.ndarray  # int64 (C, D), OpenAI micro-dollars / Anthropic 1e-7 dollars
    quantity: np.ndarray  # int64 (C, D), tokens (OpenAI line items), 0 otherwise
    model: list[str | None]  # model per cell for truth
    project: list[str]  # project id / workspace id ("default") per cell for truth


@dataclass
class ProviderData:
    """Usage arrays and cost cells of one provider in one data state (base or revised)."""

    series: list[Series]
    hourly: np.ndarray  # int64 (S, H, M)
    cum: np.ndarray  # int64 (S, H+1, M)
    daily: np.ndarray  # int64 (S, D, M)
    costs: CostCells


class _Ids:
    def __init__(self, seed: int):
        self.rng = random.Random(f"spendapp-fake-ids-{seed}")  # noqa: S311 - not crypto

    def token(self, n: int, alphabet: str) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def alnum(self, n: int) -> str:
        return self.token(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    def b58(self, n: int) -> str:
        return self.token(n, "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")


@dataclass
class Organisation:
    """The whole generated organisation of both providers."""

    seed: int = 1
    days: int = 120
    end: object = None
    end_ts: int = field(init=False)
    start_ts: int = field(init=False)

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError("days must be >= 1")
        self.end_ts = parse_end(self.end)
        self.start_ts = self.end_ts - self.days * DAY
        self.n_hours = self.days * 24
        self.day0 = self.start_ts // DAY
        self.n_days = (self.end_ts - 1) // DAY - self.day0 + 1
        # "yesterday" relative to the data end: the day before the day holding `end`.
        self.yesterday = self.end_ts // DAY - 1
        ids = _Ids(self.seed)
        self._build_openai_structure(ids)
        self._build_anthropic_structure(ids)
        self._states: dict[tuple[str, bool], ProviderData] = {}
        self._shape_cache: dict[str, np.ndarray] = {}
        self.data("openai", False)
        self.data("anthropic", False)

    # --- structure ---------------------------------------------------------------------------

    def _build_openai_structure(self, ids: _Ids) -> None:
        t0 = self.start_ts
        people = [
            ("Alice Moreau", "alice@example.com", "owner"),
            ("Bilal Haddad", "bilal@example.com", "owner"),
            ("Chen Wei", "chen@example.com", "reader"),
            ("Dana Kowalski", "dana@example.com", "reader"),
            ("Emeka Obi", "emeka@example.com", "reader"),
            ("Farah Nasser", "farah@example.com", "reader"),
        ]
        self.oa_users = [
            {
                "object": "organization.user",
                "id": "user-" + ids.alnum(24),
                "name": name,
                "email": email,
                "role": role,
                "added_at": t0 - 400 * DAY + i * 9 * DAY,
            }
            for i, (name, email, role) in enumerate(people)
        ]
        u = [x["id"] for x in self.oa_users]
        proj_defs = [
            ("Customer Support Assistant", None),
            ("Search & RAG", None),
            ("Internal Copilot", None),
            ("Batch Enrichment", None),
            ("Marketing Content", None),
            ("Legacy Prototype", 0.3),  # archived 30% into the period
        ]
        self.oa_projects = []
        for i, (name, archived) in enumerate(proj_defs):
            created = t0 - 300 * DAY + i * 21 * DAY
            archived_at = (
                None if archived is None else self.start_ts + int(archived * self.days) * DAY
            )
            self.oa_projects.append(
                {
                    "id": "proj_" + ids.alnum(24),
                    "object": "organization.project",
                    "name": name,
                    "created_at": created,
                    "archived_at": archived_at,
                    "status": "archived" if archived_at is not None else "active",
                }
            )
        p = [x["id"] for x in self.oa_projects]
        # (project index, key name, owner user index or None for a service account)
        key_defs = [
            (0, "support-prod", None),
            (0, "support-staging", 0),
            (1, "rag-api", None),
            (1, "rag-evals", 1),
            (2, "copilot-chen", 2),
            (2, "copilot-dana", 3),
            (2, "copilot-emeka", 4),
            (3, "enrichment-pipeline", None),
            (4, "marketing-app", 5),
            (4, "marketing-drafts", 0),
            (5, "prototype", 1),
        ]
        self.oa_keys = []
        for i, (pi, name, owner) in enumerate(key_defs):
            kid = "key_" + ids.alnum(16)
            secret = ids.alnum(4)
            created = self.oa_projects[pi]["created_at"] + (i + 1) * 3 * DAY
            if owner is None:
                owner_obj = {
                    "type": "service_account",
                    "service_account": {
                        "id": "svc_acct_" + ids.alnum(24),
                        "name": f"{name}-bot",
                        "created_at": created,
                        "role": "member",
                    },
                }
            else:
                usr = self.oa_users[owner]
                owner_obj = {
                    "type": "user",
                    "user": {
                        "id": usr["id"],
                        "email": usr["email"],
                        "name": usr["name"],
                        "created_at": usr["added_at"],
                        "role": "owner" if usr["role"] == "owner" else "member",
                    },
                }
            self.oa_keys.append(
                {
                    "object": "organization.project.api_key",
                    "redacted_value": f"sk-proj-{secret[:2]}***...{secret[2:]}",
                    "name": name,
                    "created_at": created,
                    "last_used_at": None,  # filled after generation
                    "id": kid,
                    "owner_project_access": "active",
                    "owner": owner_obj,
                    "_project": p[pi],
                    "_user": None if owner is None else u[owner],
                }
            )
        k = self.oa_keys

        def s(ki: int, model: str, **kw) -> Series:
            return Series(
                provider="openai",
                model=model,
                project_id=k[ki]["_project"],
                api_key_id=k[ki]["id"],
                user_id=k[ki]["_user"],
                **kw,
            )

        ser = [
            # Customer support: gpt-5.5 partly migrates to gpt-5.4-mini
            s(
                0,
                "gpt-5.5",
                req_per_hour=60,
                in_per_req=4200,
                cache_frac=0.55,
                out_per_req=380,
                migrate_out=0.6,
                web_per_req=0.02,
            ),
            s(
                0,
                "gpt-5.4-mini",
                req_per_hour=40,
                in_per_req=3000,
                cache_frac=0.5,
                out_per_req=300,
                migrate_from=0,
            ),
            s(0, "gpt-5.4-nano", req_per_hour=120, in_per_req=900, cache_frac=0.2, out_per_req=60),
            s(
                0,
                "gpt-5.5",
                service_tier="priority",
                req_per_hour=6,
                in_per_req=5000,
                cache_frac=0.5,
                out_per_req=450,
            ),
            s(1, "gpt-5.5", req_per_hour=4, in_per_req=6000, cache_frac=0.3, out_per_req=700),
            s(1, "gpt-5.4-mini", req_per_hour=8, in_per_req=2500, cache_frac=0.3, out_per_req=250),
            # Search & RAG
            s(
                2,
                "gpt-5.4",
                req_per_hour=45,
                in_per_req=9000,
                cache_frac=0.6,
                out_per_req=420,
                web_per_req=0.08,
            ),
            s(2, "gpt-5.4-nano", req_per_hour=150, in_per_req=1200, cache_frac=0.1, out_per_req=40),
            s(
                2,
                "gpt-5.4",
                service_tier="flex",
                req_per_hour=10,
                in_per_req=12000,
                cache_frac=0.4,
                out_per_req=600,
            ),
            s(3, "gpt-5.4", req_per_hour=5, in_per_req=8000, cache_frac=0.5, out_per_req=500),
            s(3, "gpt-5.5", req_per_hour=2, in_per_req=8000, cache_frac=0.5, out_per_req=900),
            s(
                3,
                "gpt-5.4-mini",
                batch=True,
                profile="batch",
                req_per_hour=30,
                in_per_req=3000,
                cache_frac=0.1,
                out_per_req=800,
            ),
            # Internal copilot (the spike project)
            s(
                4,
                "gpt-5.5",
                req_per_hour=12,
                in_per_req=7000,
                cache_frac=0.7,
                out_per_req=900,
                spike=True,
            ),
            s(4, "gpt-5.4", req_per_hour=10, in_per_req=5000, cache_frac=0.6, out_per_req=600),
            s(5, "gpt-5.5", req_per_hour=9, in_per_req=6500, cache_frac=0.7, out_per_req=800),
            s(5, "gpt-5.4-mini", req_per_hour=14, in_per_req=3000, cache_frac=0.5, out_per_req=300),
            s(6, "gpt-5.4", req_per_hour=11, in_per_req=5500, cache_frac=0.6, out_per_req=700),
            s(6, "gpt-5.4-nano", req_per_hour=20, in_per_req=1500, cache_frac=0.3, out_per_req=90),
            # Batch enrichment
            s(
                7,
                "gpt-5.4-mini",
                batch=True,
                profile="batch",
                req_per_hour=220,
                in_per_req=1800,
                cache_frac=0.0,
                out_per_req=200,
            ),
            s(
                7,
                "gpt-5.4-nano",
                batch=True,
                profile="batch",
                req_per_hour=600,
                in_per_req=700,
                cache_frac=0.0,
                out_per_req=50,
            ),
            s(
                7,
                "gpt-5.5",
                batch=True,
                profile="batch",
                req_per_hour=15,
                in_per_req=6000,
                cache_frac=0.1,
                out_per_req=1500,
            ),
            s(7, "gpt-5.4", req_per_hour=3, in_per_req=4000, cache_frac=0.2, out_per_req=400),
            s(
                7,
                "gpt-5.4-nano",
                service_tier="flex",
                req_per_hour=80,
                in_per_req=1000,
                cache_frac=0.0,
                out_per_req=80,
            ),
            # Marketing
            s(
                8,
                "gpt-5.4",
                req_per_hour=18,
                in_per_req=2500,
                cache_frac=0.3,
                out_per_req=1200,
                web_per_req=0.15,
            ),
            s(8, "gpt-5.4-mini", req_per_hour=25, in_per_req=2000, cache_frac=0.3, out_per_req=900),
            s(8, "gpt-5.5", req_per_hour=3, in_per_req=3000, cache_frac=0.2, out_per_req=1500),
            s(9, "gpt-5.4-mini", req_per_hour=6, in_per_req=2000, cache_frac=0.2, out_per_req=1000),
            s(9, "gpt-5.5", req_per_hour=2, in_per_req=4000, cache_frac=0.3, out_per_req=1200),
            # Legacy prototype, active until archived
            s(
                10,
                "gpt-5.4",
                req_per_hour=7,
                in_per_req=3500,
                cache_frac=0.2,
                out_per_req=500,
                active=(0.0, 0.3),
            ),
            s(
                10,
                "gpt-5.4-nano",
                req_per_hour=9,
                in_per_req=800,
                cache_frac=0.1,
                out_per_req=80,
                active=(0.0, 0.3),
            ),
        ]
        self.oa_series = ser

    def _build_anthropic_structure(self, ids: _Ids) -> None:
        t0 = self.start_ts
        self.an_users = ["user_01" + ids.b58(22) for _ in range(4)]
        ws_defs = [
            ("Production", "#6C5BB9"),
            ("Research", "#2E8B57"),
            ("Data Pipelines", "#D2691E"),
        ]
        self.an_workspaces = [
            {
                "id": "wrkspc_01" + ids.b58(22),
                "type": "workspace",
                "name": name,
                "created_at": iso(t0 - 200 * DAY + i * 17 * DAY),
                "archived_at": None,
                "display_color": color,
            }
            for i, (name, color) in enumerate(ws_defs)
        ]
        w = [x["id"] for x in self.an_workspaces]
        key_defs = [
            (0, "prod-chat"),
            (0, "prod-agents"),
            (1, "research-alice"),
            (1, "research-bilal"),
            (1, "research-evals"),
            (2, "pipelines-batch"),
            (None, "default-legacy"),
            (None, "default-scripts"),
        ]
        self.an_keys = []
        for i, (wi, name) in enumerate(key_defs):
            hint = ids.b58(3)
            tail = ids.b58(4)
            self.an_keys.append(
                {
                    "id": "apikey_01" + ids.b58(22),
                    "type": "api_key",
                    "name": name,
                    "status": "active",
                    "workspace_id": None if wi is None else w[wi],
                    "partial_key_hint": f"sk-ant-api03-{hint}...{tail}",
                    "created_at": iso(t0 - 150 * DAY + i * 5 * DAY),
                    "expires_at": None,
                    "created_by": {"id": self.an_users[i % 4], "type": "user"},
                }
            )
        k = self.an_keys

        def s(ki: int | None, model: str, **kw) -> Series:
            if ki is None:  # Console Workbench usage in the default workspace: no key
                return Series(
                    provider="anthropic",
                    model=model,
                    project_id=None,
                    api_key_id=None,
                    service_tier=kw.pop("service_tier", "standard"),
                    context_window=kw.pop("context_window", "0-200k"),
                    **kw,
                )
            return Series(
                provider="anthropic",
                model=model,
                project_id=k[ki]["workspace_id"],
                api_key_id=k[ki]["id"],
                service_tier=kw.pop("service_tier", "standard"),
                context_window=kw.pop("context_window", "0-200k"),
                **kw,
            )

        ser = [
            # Production chat
            s(
                0,
                "claude-sonnet-4-6",
                req_per_hour=80,
                in_per_req=5000,
                cache_frac=0.6,
                out_per_req=450,
                cw5m_frac=0.08,
                web_per_req=0.03,
            ),
            s(
                0,
                "claude-haiku-4-5",
                req_per_hour=150,
                in_per_req=1500,
                cache_frac=0.4,
                out_per_req=120,
                cw5m_frac=0.05,
            ),
            s(
                0,
                "claude-sonnet-4-6",
                context_window="200k-1M",
                req_per_hour=2,
                in_per_req=300000,
                cache_frac=0.5,
                out_per_req=1500,
                cw1h_frac=0.05,
            ),
            # Production agents (a service account): opus partly migrates to haiku
            s(
                1,
                "claude-opus-4-7",
                service_account_id="svac_01AgentsPipeline",
                req_per_hour=35,
                in_per_req=12000,
                cache_frac=0.7,
                out_per_req=900,
                cw5m_frac=0.06,
                cw1h_frac=0.04,
                migrate_out=0.5,
                web_per_req=0.05,
            ),
            s(
                1,
                "claude-haiku-4-5",
                req_per_hour=20,
                in_per_req=8000,
                cache_frac=0.6,
                out_per_req=500,
                cw5m_frac=0.06,
                migrate_from=3,
            ),
            s(
                1,
                "claude-sonnet-4-6",
                req_per_hour=25,
                in_per_req=9000,
                cache_frac=0.65,
                out_per_req=700,
                cw5m_frac=0.07,
                cw1h_frac=0.02,
            ),
            # Research
            s(
                2,
                "claude-opus-4-7",
                req_per_hour=6,
                in_per_req=15000,
                cache_frac=0.5,
                out_per_req=2000,
                cw1h_frac=0.1,
                spike=True,
            ),
            s(
                2,
                "claude-sonnet-4-6",
                req_per_hour=8,
                in_per_req=9000,
                cache_frac=0.4,
                out_per_req=1100,
                cw5m_frac=0.1,
            ),
            s(
                3,
                "claude-opus-4-7",
                req_per_hour=4,
                in_per_req=14000,
                cache_frac=0.5,
                out_per_req=1800,
                cw5m_frac=0.1,
            ),
            s(
                3,
                "claude-haiku-4-5",
                req_per_hour=10,
                in_per_req=3000,
                cache_frac=0.3,
                out_per_req=300,
            ),
            s(
                4,
                "claude-opus-4-7",
                req_per_hour=3,
                in_per_req=20000,
                cache_frac=0.6,
                out_per_req=1500,
                cw5m_frac=0.05,
            ),
            s(
                4,
                "claude-sonnet-4-6",
                req_per_hour=12,
                in_per_req=16000,
                cache_frac=0.6,
                out_per_req=900,
                cw5m_frac=0.05,
            ),
            s(
                4,
                "claude-haiku-4-5",
                req_per_hour=30,
                in_per_req=4000,
                cache_frac=0.5,
                out_per_req=250,
            ),
            s(
                4,
                "claude-sonnet-4-6",
                service_tier="batch",
                profile="batch",
                req_per_hour=40,
                in_per_req=12000,
                cache_frac=0.3,
                out_per_req=800,
            ),
            # Data pipelines (batch heavy)
            s(
                5,
                "claude-haiku-4-5",
                service_tier="batch",
                profile="batch",
                req_per_hour=500,
                in_per_req=2500,
                cache_frac=0.2,
                out_per_req=200,
            ),
            s(
                5,
                "claude-sonnet-4-6",
                service_tier="batch",
                profile="batch",
                req_per_hour=60,
                in_per_req=6000,
                cache_frac=0.2,
                out_per_req=600,
            ),
            s(
                5,
                "claude-haiku-4-5",
                req_per_hour=25,
                in_per_req=2000,
                cache_frac=0.1,
                out_per_req=150,
            ),
            s(
                5,
                "claude-opus-4-7",
                service_tier="batch",
                profile="batch",
                req_per_hour=5,
                in_per_req=20000,
                cache_frac=0.1,
                out_per_req=3000,
            ),
            # Default workspace
            s(
                6,
                "claude-sonnet-4-6",
                req_per_hour=9,
                in_per_req=4000,
                cache_frac=0.3,
                out_per_req=500,
                cw5m_frac=0.05,
            ),
            s(
                6,
                "claude-haiku-4-5",
                req_per_hour=15,
                in_per_req=1500,
                cache_frac=0.2,
                out_per_req=150,
            ),
            s(
                7,
                "claude-haiku-4-5",
                req_per_hour=6,
                in_per_req=2500,
                cache_frac=0.1,
                out_per_req=300,
            ),
            s(
                7,
                "claude-opus-4-7",
                req_per_hour=1.5,
                in_per_req=10000,
                cache_frac=0.3,
                out_per_req=1200,
            ),
            s(
                None,
                "claude-opus-4-7",
                req_per_hour=1,
                in_per_req=6000,
                cache_frac=0.0,
                out_per_req=1200,
            ),
            s(
                None,
                "claude-sonnet-4-6",
                req_per_hour=2,
                in_per_req=3000,
                cache_frac=0.0,
                out_per_req=800,
            ),
        ]
        self.an_series = ser

    # --- generation --------------------------------------------------------------------------

    def series(self, provider: str) -> list[Series]:
        return self.oa_series if provider == "openai" else self.an_series

    def _calendar(self) -> dict[str, np.ndarray]:
        t = self.start_ts + HOUR * np.arange(self.n_hours, dtype=np.int64)
        day = t // DAY
        frac = (t - self.start_ts) / (self.end_ts - self.start_ts)
        hod = (t // HOUR) % 24
        wd = (day + 3) % 7  # 0 = Monday
        dayrel = day - self.day0
        n_days = self.n_days
        holidays = {int(n_days * 0.27), int(n_days * 0.71)}
        spike_day = int(n_days * 0.58)
        is_holiday = np.isin(dayrel, list(holidays))
        return {
            "t": t,
            "frac": frac,
            "hod": hod,
            "wd": wd,
            "dayrel": dayrel,
            "holiday": is_holiday,
            "spike": (dayrel == spike_day) & (hod >= 13) & (hod < 21),
        }

    def _generate(self, provider: str) -> np.ndarray:
        """Hourly usage (S, H, M) int64 for the base (unrevised) state."""
        cal = self._calendar()
        code = 1 if provider == "openai" else 2
        rng = np.random.default_rng([self.seed, code])
        series = self.series(provider)
        n_s, n_h = len(series), self.n_hours
        # Hour-of-day profile (UTC; the org works in Europe + US East).
        hp = np.array(
            [
                0.18,
                0.15,
                0.13,
                0.12,
                0.12,
                0.14,
                0.2,
                0.35,
                0.6,
                0.85,
                0.95,
                1.0,
                0.98,
                1.0,
                1.05,
                1.1,
                1.08,
                1.0,
                0.9,
                0.75,
                0.6,
                0.45,
                0.32,
                0.24,
            ]
        )
        bp = np.array(
            [
                1.6,
                1.9,
                2.0,
                2.0,
                1.8,
                1.4,
                1.0,
                0.8,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.7,
                0.8,
                0.9,
                1.0,
                1.1,
                1.3,
                1.5,
            ]
        )
        weekly = np.array([1.0, 1.05, 1.05, 1.0, 0.9, 0.35, 0.3])
        interactive = hp[cal["hod"]] * weekly[cal["wd"]] * np.where(cal["holiday"], 0.3, 1.0)
        batchy = bp[cal["hod"]] * np.where(cal["wd"] >= 5, 0.8, 1.0)
        batchy = batchy * np.where(cal["holiday"], 0.5, 1.0)
        frac = cal["frac"]
        # Migration ramp between 50% and 60% of the period.
        ramp = np.clip((frac - 0.5) / 0.1, 0.0, 1.0)
        n_days = self.n_days
        lam = np.zeros((n_s, n_h))
        for i, se in enumerate(series):
            shape = batchy if se.profile == "batch" else interactive
            growth = np.exp(rng.uniform(0.15, 0.8) * frac)
            day_noise = rng.lognormal(0.0, 0.12, n_days)[cal["dayrel"]]
            hour_noise = rng.lognormal(0.0, 0.25, n_h)
            lam[i] = se.req_per_hour * shape * growth * day_noise * hour_noise
            lo, hi = se.active
            lam[i] *= (frac >= lo) & (frac < hi)
            if se.spike:
                lam[i] *= np.where(cal["spike"], 20.0, 1.0)  # a runaway loop
        base = lam.copy()
        for i, se in enumerate(series):
            if se.migrate_out:
                lam[i] = base[i] * (1.0 - se.migrate_out * ramp)
        for i, se in enumerate(series):
            if se.migrate_from is not None:
                src = series[se.migrate_from]
                lam[i] = base[i] + base[se.migrate_from] * src.migrate_out * ramp
        req = rng.poisson(lam).astype(np.int64)
        meas = AN_MEASURES if provider == "anthropic" else OA_MEASURES
        out = np.zeros((n_s, n_h, len(meas)), dtype=np.int64)
        out[:, :, 0] = req
        for i, se in enumerate(series):
            r = req[i].astype(float)
            total_in = r * se.in_per_req * rng.lognormal(0.0, 0.12, n_h)
            cache = np.clip(se.cache_frac + rng.normal(0.0, 0.05, n_h), 0.0, 0.95)
            if se.cache_frac == 0:
                cache[:] = 0.0
            cached = np.round(total_in * cache)
            output = np.round(r * se.out_per_req * rng.lognormal(0.0, 0.15, n_h))
            web = rng.binomial(req[i], min(se.web_per_req, 1.0)) if se.web_per_req else 0
            if provider == "openai":
                out[i, :, OA["input_cached"]] = cached
                out[i, :, OA["input_uncached"]] = np.round(total_in) - cached
                out[i, :, OA["output"]] = output
                out[i, :, OA["web_search"]] = web
            else:
                cw5 = np.round(total_in * se.cw5m_frac * rng.uniform(0.7, 1.3, n_h))
                cw1 = np.round(total_in * se.cw1h_frac * rng.uniform(0.7, 1.3, n_h))
                unc = np.maximum(np.round(total_in) - cached - cw5 - cw1, 0)
                out[i, :, AN["cache_read"]] = cached
                out[i, :, AN["cw5m"]] = cw5
                out[i, :, AN["cw1h"]] = cw1
                out[i, :, AN["uncached"]] = unc
                out[i, :, AN["output"]] = output
                out[i, :, AN["web_search"]] = web
        # Zero requests -> zero everything (keeps minute splitting exact).
        out[req == 0] = 0
        # Every request has at least one input and one output token.
        return out

    def _revise(self, provider: str, hourly: np.ndarray) -> np.ndarray:
        """Yesterday's numbers, revised slightly upwards for every third series."""
        rev = hourly.copy()
        lo = max(0, (self.yesterday * DAY - self.start_ts) // HOUR)
        hi = min(self.n_hours, ((self.yesterday + 1) * DAY - self.start_ts) // HOUR)
        if hi <= lo:
            return rev
        rng = np.random.default_rng([self.seed, 99, 1 if provider == "openai" else 2])
        for i in range(0, hourly.shape[0], 3):
            factor = 1.0 + rng.uniform(0.01, 0.06)
            block = rev[i, lo:hi, :].astype(float)
            rev[i, lo:hi, :] = np.round(block * factor).astype(np.int64)
        return rev

    def data(self, provider: str, revised: bool) -> ProviderData:
        key = (provider, revised)
        if key not in self._states:
            base = self._states.get((provider, False))
            hourly = self._revise(provider, base.hourly) if revised else self._generate(provider)
            self._states[key] = self._assemble(provider, hourly)
            if not revised and provider == "openai":
                self._fill_last_used(hourly)
        return self._states[key]

    def _fill_last_used(self, hourly: np.ndarray) -> None:
        used = hourly[:, :, 0] > 0
        for key in self.oa_keys:
            idx = [i for i, s in enumerate(self.oa_series) if s.api_key_id == key["id"]]
            hours = np.nonzero(used[idx].any(axis=0))[0]
            key["last_used_at"] = int(self.start_ts + HOUR * hours[-1]) if len(hours) else None

    def _assemble(self, provider: str, hourly: np.ndarray) -> ProviderData:
        n_s, n_h, n_m = hourly.shape
        cum = np.zeros((n_s, n_h + 1, n_m), dtype=np.int64)
        np.cumsum(hourly, axis=1, out=cum[:, 1:, :])
        # daily sums
        day_edges = np.array(
            [
                min(max(((self.day0 + d) * DAY - self.start_ts) // HOUR, 0), n_h)
                for d in range(self.n_days + 1)
            ]
        )
        daily = cum[:, day_edges[1:], :] - cum[:, day_edges[:-1], :]
        costs = self._openai_costs(daily) if provider == "openai" else self._anthropic_costs(daily)
        return ProviderData(self.series(provider), hourly, cum, daily, costs)

    # --- costs -------------------------------------------------------------------------------

    def _openai_costs(self, daily: np.ndarray) -> CostCells:
        cells: dict[tuple, int] = {}
        dims: list[dict] = []
        models: list[str | None] = []
        projects: list[str] = []
        contrib: list[list[tuple[int, int, int]]] = []  # (series, measure, unit price)
        disc = DISCOUNT_PCT["openai"]
        for si, se in enumerate(self.oa_series):
            tier = "batch" if se.batch else se.service_tier
            bp = OPENAI_TIER_PCT[tier] * disc
            pr = PRICES["openai"][se.model]
            items = [
                (
                    f"{se.model}, input",
                    se.model,
                    OA["input_uncached"],
                    price_milli(pr["input"]) * bp,
                ),
                (
                    f"{se.model}, cached input",
                    se.model,
                    OA["input_cached"],
                    price_milli(pr["cached_input"]) * bp,
                ),
                (f"{se.model}, output", se.model, OA["output"], price_milli(pr["output"]) * bp),
            ]
            if se.web_per_req:
                items.append(
                    (
                        "web search tool calls",
                        None,
                        OA["web_search"],
                        WEB_SEARCH_DOLLARS_PER_1000 * 10**6 * 100 * disc,
                    )
                )
            for line_item, model, m, unit in items:
                key = (se.project_id, se.api_key_id, line_item)
                if key not in cells:
                    cells[key] = len(dims)
                    dims.append(
                        {
                            "project_id": se.project_id,
                            "api_key_id": se.api_key_id,
                            "line_item": line_item,
                            "token_line": model is not None,
                        }
                    )
                    models.append(model)
                    projects.append(se.project_id)
                    contrib.append([])
                contrib[cells[key]].append((si, m, unit))
        amounts = np.zeros((len(dims), self.n_days), dtype=np.int64)
        quantity = np.zeros((len(dims), self.n_days), dtype=np.int64)
        for ci, parts in enumerate(contrib):
            for d in range(self.n_days):
                exact = 0
                qty = 0
                for si, m, unit in parts:
                    tokens = int(daily[si, d, m])
                    exact += tokens * unit
                    qty += tokens
                amounts[ci, d] = div_round_half_even(exact, OA_QUANT)
                quantity[ci, d] = qty
        return CostCells(dims, amounts, quantity, models, projects)

    def _anthropic_costs(self, daily: np.ndarray) -> CostCells:
        token_types = [
            ("uncached_input_tokens", "input", AN["uncached"], "Input Tokens"),
            ("output_tokens", "output", AN["output"], "Output Tokens"),
            ("cache_read_input_tokens", "cache_read", AN["cache_read"], "Cache Read Tokens"),
            (
                "cache_creation.ephemeral_5m_input_tokens",
                "cache_write_5m",
                AN["cw5m"],
                "5m Cache Write Tokens",
            ),
            (
                "cache_creation.ephemeral_1h_input_tokens",
                "cache_write_1h",
                AN["cw1h"],
                "1h Cache Write Tokens",
            ),
        ]
        cells: dict[tuple, int] = {}
        dims: list[dict] = []
        models: list[str | None] = []
        projects: list[str] = []
        contrib: list[list[tuple[int, int, int]]] = []
        disc = DISCOUNT_PCT["anthropic"]

        def add(key, dim, model, project, part):
            if key not in cells:
                cells[key] = len(dims)
                dims.append(dim)
                models.append(model)
                projects.append(project)
                contrib.append([])
            contrib[cells[key]].append(part)

        for si, se in enumerate(self.an_series):
            bp = ANTHROPIC_TIER_PCT[se.service_tier] * disc
            pr = PRICES["anthropic"][se.model]
            display = ANTHROPIC_DISPLAY[se.model]
            qual = ""
            if se.service_tier == "batch":
                qual += " Batch"
            if se.context_window == "200k-1M":
                qual += " Long Context"
            project = se.project_id or "default"
            for token_type, price_key, m, label in token_types:
                description = f"{display}{qual} Usage - {label}"
                key = (se.project_id, description)
                dim = {
                    "workspace_id": se.project_id,
                    "description": description,
                    "cost_type": "tokens",
                    "model": se.model,
                    "service_tier": se.service_tier,
                    "token_type": token_type,
                    "context_window": se.context_window,
                }
                add(key, dim, se.model, project, (si, m, price_milli(pr[price_key]) * bp))
            if se.web_per_req:
                dim = {
                    "workspace_id": se.project_id,
                    "description": "Web Search Usage",
                    "cost_type": "web_search",
                    "model": None,
                    "service_tier": None,
                    "token_type": None,
                    "context_window": None,
                }
                unit = WEB_SEARCH_DOLLARS_PER_1000 * 10**6 * 100 * disc
                add(
                    (se.project_id, "Web Search Usage"),
                    dim,
                    None,
                    project,
                    (si, AN["web_search"], unit),
                )
        amounts = np.zeros((len(dims), self.n_days), dtype=np.int64)
        for ci, parts in enumerate(contrib):
            for d in range(self.n_days):
                exact = sum(int(daily[si, d, m]) * unit for si, m, unit in parts)
                amounts[ci, d] = div_round_half_even(exact, AN_QUANT)
        return CostCells(dims, amounts, np.zeros_like(amounts), models, projects)

    # --- truth -------------------------------------------------------------------------------

    def truth(self, revised: dict[str, bool] | None = None) -> list[dict]:
        """Ground-truth rows by UTC day x provider x model x project (see package docs)."""
        revised = revised or {}
        rows: dict[tuple, dict] = {}
        for provider in ("openai", "anthropic"):
            data = self.data(provider, bool(revised.get(provider)))
            series = data.series
            if provider == "openai":
                ins = [OA["input_uncached"], OA["input_cached"]]
                outm, reqm = OA["output"], OA["requests"]
            else:
                ins = [AN["uncached"], AN["cache_read"], AN["cw5m"], AN["cw1h"]]
                outm, reqm = AN["output"], None
            for si, se in enumerate(series):
                project = se.project_id or "default"
                d_in = data.daily[si, :, ins].sum(axis=0)
                d_out = data.daily[si, :, outm]
                d_req = data.daily[si, :, reqm] if reqm is not None else np.zeros_like(d_out)
                for d in np.nonzero(data.daily[si].any(axis=1))[0]:
                    key = (int(d), provider, se.model, project)
                    row = rows.setdefault(key, _row(self.day0, key))
                    row["input_tokens"] += int(d_in[d])
                    row["output_tokens"] += int(d_out[d])
                    row["requests"] += int(d_req[d])
            quant_dollar_exp = -OA_DECIMALS if provider == "openai" else -(AN_CENT_DECIMALS + 2)
            c = data.costs
            for ci in range(len(c.dims)):
                for d in np.nonzero(c.amounts[ci])[0]:
                    key = (int(d), provider, c.model[ci], c.project[ci])
                    row = rows.setdefault(key, _row(self.day0, key))
                    row["_cost"] += int(c.amounts[ci, d])
                    row["_exp"] = quant_dollar_exp
        out = []
        for key in sorted(rows, key=lambda k: (k[0], k[1], k[2] or "", k[3])):
            row = rows[key]
            exp = row.pop("_exp", -OA_DECIMALS)
            row["billed_cost"] = format(Decimal(row.pop("_cost")).scaleb(exp), "f")
            out.append(row)
        return out

    def prices(self) -> dict:
        """The price table the fake bills with (for the truth output)."""
        return {
            "unit": "USD per million tokens (web search: USD per 1000 calls)",
            "list_prices": PRICES,
            "web_search_per_1000": WEB_SEARCH_DOLLARS_PER_1000,
            "tier_multiplier_pct": {"openai": OPENAI_TIER_PCT, "anthropic": ANTHROPIC_TIER_PCT},
            "billed_pct_of_list": DISCOUNT_PCT,
            "rounding": {
                "openai": "per cost cell (day, project, api key, line item), half-even to 1e-6 USD",
                "anthropic": "per cost cell (day, workspace, description), half-even to 1e-5 cents",
            },
        }


def _row(day0: int, key: tuple) -> dict:
    d, provider, model, project = key
    return {
        "date": day_str(day0 + d),
        "provider": provider,
        "model": model,
        "project": project,
        "input_tokens": 0,
        "output_tokens": 0,
        "requests": 0,
        "billed_cost": "0",
        "_cost": 0,
    }
