"""Price-catalog audit: what the bill implies per million tokens against what the PriceBook
would charge, per (account, model, token type) over a date range.

Where a cost endpoint splits spend by model and token type (OpenAI line items such as
``"gpt-5.5, cached input"`` parsed into ``CostLineItem.model`` / ``token_type``; Anthropic's
cost report ``model`` + ``token_type``), billed cost is matched with the tokens of the same
UTC day, account, model and token type in ``UsageBucket`` (and the same project, where both
sides carry project ids; otherwise the day's projects are pooled). Cells with a bill but no
usage are counted in ``billed`` but left out of the comparison; usage without a bill (costs not
settled yet) is left out too. Over the range, per (account, model, token type):

* ``implied_per_mtok = billed_compared / tokens x 1e6``
* ``catalog_per_mtok = expected / tokens x 1e6``, where ``expected`` prices every usage row
  with ``PriceBook.lookup(provider, model, day, service_tier, batch, speed=, inference_geo=)``:
  a token-weighted average,
  so batch and standard usage of one model are each priced at their own rate.
* ``ratio = catalog_per_mtok / implied_per_mtok``: how much the catalog over-states the bill.
  ``ratio > 1 + tolerance`` -> "catalog too high" (e.g. a 6 % negotiated discount gives
  1/0.94 = 1.0638, cached reads priced at the input rate give ~10);
  ``ratio < 1 - tolerance`` -> "catalog too low" (e.g. 1-hour cache writes priced at the
  5-minute rate, or a model that bills cached reads at full price).
* "unpriced model": the catalog (and overrides) do not know a model the bill shows; such
  usage is estimated at nothing, so every cent of it is missed.
* "no usage to compare": billed, but no tokens of that type on the billed days.

``price_rules`` names the documented provider rules (`spendapp.usage.pricing.PRICE_RULES`,
e.g. batch at 50 % of list) used instead of a catalog price for some of the compared usage,
with the first and last day they were used (``rule_from``/``rule_to``): the catalog had no
batch or flex price for those dates. A rule is not a fault, but it is not the catalog either.

Aggregating over the range keeps day-to-day noise (usage and cost buckets cut at slightly
different times) from raising flags. Prices are looked up at each day's start (UTC).
FOCUS accounts carry no token usage and are not audited. Money is Decimal throughout.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.db.models.functions import TruncDate

from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import CostLineItem, PriceOverride, UsageBucket
from spendapp.usage.pricing import MILLION, PriceBook

# CostLineItem.token_type -> (UsageBucket token column, TokenPrices field)
TOKEN_TYPES = {
    "input": ("input_uncached_tokens", "input"),
    "cached_input": ("input_cached_tokens", "cached_input"),
    "cache_write": ("cache_write_tokens", "cache_write"),
    "cache_write_1h": ("cache_write_1h_tokens", "cache_write_1h"),
    "output": ("output_tokens", "output"),
}
_TOKEN_ORDER = {name: index for index, name in enumerate(TOKEN_TYPES)}
_USAGE_COLUMNS = tuple(column for column, _ in TOKEN_TYPES.values())
DEFAULT_TOLERANCE = Decimal("0.02")
NOT_AUDITED_PROVIDERS = ("focus",)

OK = "ok"
CATALOG_TOO_HIGH = "catalog too high"
CATALOG_TOO_LOW = "catalog too low"
UNPRICED_MODEL = "unpriced model"
NO_USAGE = "no usage to compare"

_PRICE_PLACES = Decimal("0.000001")
_RATIO_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class AuditRow:
    account_id: int
    account: str
    provider: str
    date_from: date  # first and last day compared (or billed, when nothing could be compared)
    date_to: date
    days: int  # days compared
    model: str
    token_type: str
    tokens: int  # usage tokens on the compared days
    billed: Decimal  # every billed cost of the range
    billed_compared: Decimal  # the part matched with usage, behind implied_per_mtok
    implied_per_mtok: Decimal | None
    catalog_per_mtok: Decimal | None
    ratio: Decimal | None  # catalog / implied, 4 places
    verdict: str
    catalog_source: str = ""  # "catalog:<model id>" / "override:<id>"
    price_rules: str = ""  # provider rules used instead of a catalog price, "; "-separated
    rule_from: date | None = None  # first and last day a rule priced some of the usage
    rule_to: date | None = None

    @property
    def used_rule(self) -> bool:
        return bool(self.price_rules)

    @property
    def flagged(self) -> bool:
        return self.verdict != OK


@dataclass
class _Total:
    billed: Decimal = Decimal(0)
    billed_compared: Decimal = Decimal(0)
    tokens: int = 0
    expected: Decimal = Decimal(0)
    unpriced: bool = False
    days_compared: set[date] = field(default_factory=set)
    days_billed: set[date] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    rules: set[str] = field(default_factory=set)
    rule_days: set[date] = field(default_factory=set)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _verdict(total: _Total, tolerance: Decimal) -> tuple[str, Decimal | None, Decimal | None]:
    """(verdict, exact implied $/Mtok, exact catalog $/Mtok)."""
    implied = catalog = None
    if total.tokens:
        implied = total.billed_compared * MILLION / total.tokens
        if not total.unpriced:
            catalog = total.expected * MILLION / total.tokens
    if total.unpriced and total.billed:
        return UNPRICED_MODEL, implied, None
    if not total.tokens:
        return NO_USAGE, None, None
    if implied == 0:
        return (OK if catalog == 0 else CATALOG_TOO_HIGH), implied, catalog
    ratio = catalog / implied
    if ratio > 1 + tolerance:
        return CATALOG_TOO_HIGH, implied, catalog
    if ratio < 1 - tolerance:
        return CATALOG_TOO_LOW, implied, catalog
    return OK, implied, catalog


def _quantize(value: Decimal | None, places: Decimal) -> Decimal | None:
    return None if value is None else value.quantize(places)


def price_audit(
    date_from: date,
    date_to: date,
    account=None,
    *,
    tolerance: Decimal | str = DEFAULT_TOLERANCE,
    book: PriceBook | None = None,
) -> list[AuditRow]:
    """Audit the days ``date_from``..``date_to`` (inclusive, UTC).

    ``account``: a ProviderAccount, its id, or None for all. ``tolerance``: allowed relative
    difference (0.02 = 2 %). ``book``: the PriceBook to audit (default: catalog + all
    PriceOverride rows, as ingestion uses).
    """
    tolerance = Decimal(str(tolerance))
    if not 0 <= tolerance < 1:
        raise ValueError("tolerance: expected a fraction between 0 and 1, e.g. 0.02")
    if book is None:
        book = PriceBook(PriceOverride.objects.all())
    t0, t1 = _midnight(date_from), _midnight(date_to + timedelta(days=1))
    accounts = ProviderAccount.objects.exclude(provider__in=NOT_AUDITED_PROVIDERS)
    if account is not None:
        accounts = accounts.filter(pk=account if isinstance(account, int) else account.pk)
    accounts = {a.pk: a for a in accounts}

    # Billed: (account, day, model, token type) -> project -> amount.
    billed: dict[tuple, dict[str, Decimal]] = defaultdict(dict)
    cost_rows = (
        CostLineItem.objects.filter(
            account_id__in=list(accounts),
            bucket_start__gte=t0,
            bucket_start__lt=t1,
            token_type__in=TOKEN_TYPES,
        )
        .exclude(model="")
        .annotate(day=TruncDate("bucket_start", tzinfo=UTC))
        .values("account_id", "day", "model", "token_type", "project_id")
        .annotate(amount=Sum("amount"))
    )
    models = set()
    for row in cost_rows:
        key = (row["account_id"], row["day"], row["model"], row["token_type"])
        billed[key][row["project_id"]] = row["amount"]
        models.add(row["model"])
    if not billed:
        return []

    # Usage: (account, day, model) -> project -> [(service_tier, batch, token columns)].
    usage: dict[tuple, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    usage_rows = (
        UsageBucket.objects.filter(
            account_id__in={key[0] for key in billed},
            bucket_start__gte=t0,
            bucket_start__lt=t1,
            model__in=models,
        )
        .annotate(day=TruncDate("bucket_start", tzinfo=UTC))
        .values(
            "account_id",
            "day",
            "model",
            "project_id",
            "service_tier",
            "batch",
            "speed",
            "inference_geo",
        )
        .annotate(**{f"sum_{column}": Sum(column) for column in _USAGE_COLUMNS})
    )
    for row in usage_rows:
        key = (row["account_id"], row["day"], row["model"])
        tokens = {column: int(row[f"sum_{column}"] or 0) for column in _USAGE_COLUMNS}
        context = (row["service_tier"], row["batch"], row["speed"], row["inference_geo"])
        usage[key][row["project_id"]].append((context, tokens))

    totals: dict[tuple, _Total] = defaultdict(_Total)
    for (account_id, day, model, token_type), by_project in billed.items():
        provider = accounts[account_id].provider
        column, price_field = TOKEN_TYPES[token_type]
        total = totals[account_id, model, token_type]
        total.billed += sum(by_project.values())
        total.days_billed.add(day)
        used = usage.get((account_id, day, model), {})
        if used and all(by_project) and all(used):
            units = [(amount, used.get(project, [])) for project, amount in by_project.items()]
        else:  # one side has no project split: pool the day's projects
            pooled = [entry for entries in used.values() for entry in entries]
            units = [(sum(by_project.values()), pooled)]
        at = _midnight(day)
        for amount, entries in units:
            tokens = sum(entry[1][column] for entry in entries)
            if not tokens:
                continue
            total.billed_compared += amount
            total.tokens += tokens
            total.days_compared.add(day)
            for (service_tier, batch, speed, geo), counts in entries:
                if not counts[column]:
                    continue
                prices = book.lookup(
                    provider, model, at, service_tier, batch, speed=speed, inference_geo=geo
                )
                if prices is None:
                    total.unpriced = True
                    continue
                total.expected += counts[column] * getattr(prices, price_field) / MILLION
                total.sources.add(prices.source)
                if prices.rule:
                    total.rules.add(prices.rule)
                    total.rule_days.add(day)
        if book.lookup(provider, model, at) is None:  # cached: one catalog search per model
            total.unpriced = True

    result = []
    for (account_id, model, token_type), total in totals.items():
        verdict, implied, catalog = _verdict(total, tolerance)
        days = total.days_compared or total.days_billed
        ratio = catalog / implied if implied and catalog is not None else None
        account_obj = accounts[account_id]
        result.append(
            AuditRow(
                account_id=account_id,
                account=account_obj.name,
                provider=account_obj.provider,
                date_from=min(days),
                date_to=max(days),
                days=len(total.days_compared),
                model=model,
                token_type=token_type,
                tokens=total.tokens,
                billed=total.billed,
                billed_compared=total.billed_compared,
                implied_per_mtok=_quantize(implied, _PRICE_PLACES),
                catalog_per_mtok=_quantize(catalog, _PRICE_PLACES),
                ratio=_quantize(ratio, _RATIO_PLACES),
                verdict=verdict,
                catalog_source=", ".join(sorted(total.sources)),
                price_rules="; ".join(sorted(total.rules)),
                rule_from=min(total.rule_days, default=None),
                rule_to=max(total.rule_days, default=None),
            )
        )
    result.sort(key=lambda r: (r.account, r.model, _TOKEN_ORDER[r.token_type]))
    return result
