"""The monthly chargeback: per team and per cost centre, as a page, a CSV, a FOCUS-style
export and an email to each team's owner.

Months are calendar months of UTC days (the rollup's days); only the email's send day
follows ``settings.ORG_TIME_ZONE``. Every amount is summed from ``AllocatedSpend`` and
written at full precision, so the files add up to the rollup to the last decimal.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.template.loader import render_to_string

from spendapp.allocation.models import ChargebackEmail, SharedCost, Team
from spendapp.allocation.queries import UNALLOCATED_LABEL, filtered, spend_by_team, subtree_ids
from spendapp.core.csvfiles import SafeDictWriter, SafeWriter
from spendapp.core.inputs import check_day
from spendapp.providers.models import PROVIDER_CHOICES, ProviderEntity

TOP_MODELS = 3
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- months and working days ---------------------------------------------------------------


def parse_month(text: str | None, *, default: date | None = None) -> date:
    """ "YYYY-MM" -> the first day of that month; ValueError with a readable message."""
    if not text:
        if default is None:
            raise ValueError("month: expected YYYY-MM")
        return default
    match = _MONTH.match(text.strip())
    if not match or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"month: expected YYYY-MM, got {text[:40]!r}")
    return check_day(date(int(match[1]), int(match[2]), 1), "month")


def month_end(month: date) -> date:
    """Last day of the month that starts at ``month``."""
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def previous_month(day: date) -> date:
    return (day.replace(day=1) - timedelta(days=1)).replace(day=1)


def org_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(ZoneInfo(settings.ORG_TIME_ZONE)).date()


def first_working_day(year: int, month: int) -> date:
    """First Monday-to-Friday day of the month (public holidays are not modelled)."""
    day = date(year, month, 1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


# --- the report ----------------------------------------------------------------------------


def _change(now: Decimal | None, before: Decimal | None) -> Decimal | None:
    if now is None or not before:
        return None
    return ((now - before) / before * 100).quantize(Decimal("0.1"))


@dataclass
class Line:
    level: str  # team | cost_centre | total
    id: int | None
    name: str
    code: str = ""
    cost_centre: str = ""
    estimated_cost: Decimal = Decimal(0)
    billed_cost: Decimal | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    spend: Decimal = Decimal(0)  # the one number (`spendapp.usage.spend`)
    prev_estimated_cost: Decimal = Decimal(0)
    prev_billed_cost: Decimal | None = None
    prev_spend: Decimal = Decimal(0)
    top_models: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def estimated_change(self) -> Decimal | None:
        return _change(self.estimated_cost, self.prev_estimated_cost)

    @property
    def billed_change(self) -> Decimal | None:
        return _change(self.billed_cost, self.prev_billed_cost)

    @property
    def spend_change(self) -> Decimal | None:
        """Month over month, on spend: the one change the report shows."""
        return _change(self.spend, self.prev_spend)

    @property
    def top_models_text(self) -> str:
        return "; ".join(f"{model or '(none)'} {_money(cost)}" for model, cost in self.top_models)


@dataclass
class Chargeback:
    month: date
    teams: list[Line]
    cost_centres: list[Line]
    total: Line
    scope: Team | None = None

    @property
    def date_to(self) -> date:
        return month_end(self.month)

    @property
    def label(self) -> str:
        return f"{self.month:%Y-%m}"


def _add(line: Line, row: dict, *, previous: bool) -> None:
    if previous:
        line.prev_spend += row.get("spend", Decimal(0))
        line.prev_estimated_cost += row["estimated_cost"]
        if row["billed_cost"] is not None:
            line.prev_billed_cost = (line.prev_billed_cost or 0) + row["billed_cost"]
        return
    line.estimated_cost += row["estimated_cost"]
    line.spend += row.get("spend", Decimal(0))
    if row["billed_cost"] is not None:
        line.billed_cost = (line.billed_cost or 0) + row["billed_cost"]
    line.input_tokens += row["input_tokens"]
    line.output_tokens += row["output_tokens"]
    line.requests += row["requests"]


def chargeback(month: date, *, team_id: int | None = None) -> Chargeback:
    """The report of ``month`` (its first day); ``team_id`` limits it to a subtree (the
    email to a department's or team's owner)."""
    month = month.replace(day=1)
    before = previous_month(month)
    filters = {"team": [team_id]} if team_id else None
    teams = {t.pk: t for t in Team.objects.all()}
    cost_centre_of = _cost_centres(teams)

    def make(level: str, key: int | None, name: str) -> Line:
        team = teams.get(key)
        centre = teams.get(cost_centre_of.get(key)) if level == "team" else None
        return Line(
            level,
            key,
            name,
            code=team.code if team else "",
            cost_centre=centre.name if centre else "",
        )

    sections: dict[str, dict] = {"team": {}, "cost_centre": {}}
    for level, lines in sections.items():
        rows = spend_by_team(
            before, month_end(month), by=level, granularity="month", filters=filters
        )
        for row in rows:
            line = lines.get((row["id"], row["name"]))
            if line is None:
                line = lines[(row["id"], row["name"])] = make(level, row["id"], row["name"])
            _add(line, row, previous=row["date"] < month)
    total = Line("total", None, "Total")
    for line in sections["team"].values():
        _add(total, _as_row(line), previous=False)
        _add(total, _as_prev_row(line), previous=True)
    # Top models per team of the month, one grouped query.
    models = (
        filtered(month, month_end(month), filters)
        .values("team_id", "model")
        .annotate(est=Sum("estimated_cost"))
        .order_by("team_id", F("est").desc(nulls_last=True))
    )
    per_team: dict[int | None, list] = {}
    for row in models:
        per_team.setdefault(row["team_id"], []).append((row["model"], row["est"] or Decimal(0)))
    for (key, _), line in sections["team"].items():
        line.top_models = per_team.get(key, [])[:TOP_MODELS]

    def ordered(lines: dict) -> list[Line]:
        # Biggest first; the unallocated bucket last, where Finance looks for it.
        return sorted(
            lines.values(), key=lambda x: (x.name == UNALLOCATED_LABEL, -x.estimated_cost, x.name)
        )

    return Chargeback(
        month,
        ordered(sections["team"]),
        ordered(sections["cost_centre"]),
        total,
        scope=teams.get(team_id) if team_id else None,
    )


def _as_row(line: Line) -> dict:
    return {
        "estimated_cost": line.estimated_cost,
        "billed_cost": line.billed_cost,
        "spend": line.spend,
        "input_tokens": line.input_tokens,
        "output_tokens": line.output_tokens,
        "requests": line.requests,
    }


def _as_prev_row(line: Line) -> dict:
    return {
        "estimated_cost": line.prev_estimated_cost,
        "billed_cost": line.prev_billed_cost,
        "spend": line.prev_spend,
    }


def _cost_centres(teams: dict[int, Team]) -> dict[int, int]:
    """Team id -> id of the nearest department at or above it."""
    out = {}
    for pk, team in teams.items():
        node, seen = team, set()
        while node is not None and node.pk not in seen:
            if node.kind == Team.Kind.DEPARTMENT:
                out[pk] = node.pk
                break
            seen.add(node.pk)
            node = teams.get(node.parent_id)
    return out


def _money(value: Decimal | None) -> str:
    """Full precision, no exponent, no trailing zeros: the files add up exactly."""
    if value is None:
        return ""
    text = f"{value.normalize():f}"
    return "0" if text in {"-0", ""} else text


def _pct(value: Decimal | None) -> str:
    return "" if value is None else f"{value}"


CSV_COLUMNS = (
    "month",
    "level",
    "name",
    "code",
    "cost_centre",
    "billed_cost",
    "estimated_cost",
    "input_tokens",
    "output_tokens",
    "requests",
    "top_models",
    "prev_billed_cost",
    "prev_estimated_cost",
    "billed_change_pct",
    "estimated_change_pct",
    "currency",
)


def chargeback_csv(report: Chargeback) -> str:
    """Team lines, then cost-centre lines, then the total: each section sums to the total."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(CSV_COLUMNS)
    for line in [*report.teams, *report.cost_centres, report.total]:
        writer.writerow(
            [
                report.label,
                line.level,
                line.name,
                line.code,
                line.cost_centre,
                _money(line.billed_cost),
                _money(line.estimated_cost),
                line.input_tokens,
                line.output_tokens,
                line.requests,
                line.top_models_text,
                _money(line.prev_billed_cost),
                _money(line.prev_estimated_cost),
                _pct(line.billed_change),
                _pct(line.estimated_change),
                settings.ORG_CURRENCY,
            ]
        )
    return out.getvalue()


# --- FOCUS-style export --------------------------------------------------------------------

FOCUS_COLUMNS = (
    "BillingAccountId",
    "BillingAccountName",
    "SubAccountId",
    "SubAccountName",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeDescription",
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "BillingCurrency",
    "ProviderName",
    "PublisherName",
    "InvoiceIssuerName",
    "ServiceCategory",
    "ServiceName",
    "SkuId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "Tags",
    "x_ApiKeyId",
)
_PROVIDER_NAMES = dict(PROVIDER_CHOICES)


def _iso(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def focus_rows(month: date, *, team_id: int | None = None) -> Iterator[dict]:
    """One row per day x account x project x model x API key x team of the month.

    BilledCost is the provider's invoice amount (0 where it billed at a coarser grain than the
    row); EffectiveCost and ListCost are the estimate from list prices, the only cost known at
    every grain. Tags carry the team and its cost centre.
    """
    month = month.replace(day=1)
    filters = {"team": [team_id]} if team_id else None
    teams = {t.pk: t for t in Team.objects.all()}
    pools = dict(SharedCost.objects.values_list("pk", "name"))
    names = {
        (a, k, e): n
        for a, k, e, n in ProviderEntity.objects.filter(kind="project").values_list(
            "account_id", "kind", "external_id", "name"
        )
    }
    period = (_iso(month), _iso(month_end(month) + timedelta(days=1)))
    rows = (
        filtered(month, month_end(month), filters)
        .values(
            "day",
            "provider",
            "account_id",
            "account__name",
            "project_id",
            "model",
            "api_key_id",
            "team_id",
            "cost_centre_id",
            "shared_cost_id",
        )
        .annotate(
            est=Sum("estimated_cost"),
            billed=Sum("billed_cost"),
            tokens=Sum(
                F("input_uncached_tokens")
                + F("input_cached_tokens")
                + F("cache_write_tokens")
                + F("cache_write_1h_tokens")
                + F("output_tokens")
            ),
        )
        .order_by("day", "provider", "account_id", "project_id", "model", "api_key_id", "team_id")
    )
    for r in rows.iterator(chunk_size=5000):
        team = teams.get(r["team_id"])
        centre = teams.get(r["cost_centre_id"])
        tags = {"team": team.name if team else UNALLOCATED_LABEL}
        if team and team.code:
            tags["team_code"] = team.code
        if centre:
            tags["cost_centre"] = centre.name
            if centre.code:
                tags["cost_centre_code"] = centre.code
        if r["shared_cost_id"]:
            tags["shared_cost"] = pools.get(r["shared_cost_id"], str(r["shared_cost_id"]))
        provider = _PROVIDER_NAMES.get(r["provider"], r["provider"])
        est = r["est"] or Decimal(0)
        yield {
            "BillingAccountId": str(r["account_id"]),
            "BillingAccountName": r["account__name"],
            "SubAccountId": r["project_id"],
            "SubAccountName": names.get((r["account_id"], "project", r["project_id"]), ""),
            "BillingPeriodStart": period[0],
            "BillingPeriodEnd": period[1],
            "ChargePeriodStart": _iso(r["day"]),
            "ChargePeriodEnd": _iso(r["day"] + timedelta(days=1)),
            "ChargeCategory": "Usage",
            "ChargeDescription": f"{provider} {r['model'] or 'usage'}".strip(),
            "BilledCost": _money(r["billed"] or Decimal(0)),
            "EffectiveCost": _money(est),
            "ListCost": _money(est),
            "BillingCurrency": settings.ORG_CURRENCY,
            "ProviderName": provider,
            "PublisherName": provider,
            "InvoiceIssuerName": provider,
            "ServiceCategory": "AI and Machine Learning",
            "ServiceName": f"{provider} API",
            "SkuId": r["model"],
            "ConsumedQuantity": str(int(r["tokens"] or 0)),
            "ConsumedUnit": "Tokens",
            "Tags": json.dumps(tags, sort_keys=True),
            "x_ApiKeyId": r["api_key_id"],
        }


def focus_csv(month: date, *, team_id: int | None = None) -> Iterator[str]:
    """The FOCUS export as CSV text, line by line (streamed to the browser)."""
    buffer = io.StringIO()
    writer = SafeDictWriter(buffer, fieldnames=FOCUS_COLUMNS)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writeheader()
    yield flush()
    for row in focus_rows(month, team_id=team_id):
        writer.writerow(row)
        yield flush()


# --- the monthly email ---------------------------------------------------------------------


def teams_to_email(month: date) -> list[int]:
    """Teams with an owner that have not been sent ``month``'s report yet."""
    sent = ChargebackEmail.objects.filter(month=month).values("team_id")
    return list(
        Team.objects.exclude(owner_email="").exclude(pk__in=sent).values_list("pk", flat=True)
    )


def email_team_report(team_id: int, month: date) -> bool:
    """Send ``month``'s report of the team's subtree to its owner, at most once.

    The log row is inserted in the same transaction as the send: a failed send rolls it back
    (the task retries), and a concurrent second worker waits on the unique index, then finds
    the row and sends nothing.
    """
    team = Team.objects.filter(pk=team_id).first()
    if team is None or not team.owner_email:
        return False
    report = chargeback(month, team_id=team.pk)
    context = {
        "report": report,
        "team": team,
        "site_url": settings.SITE_URL,
        "org_name": settings.ORG_NAME,
        "currency": settings.ORG_CURRENCY,
        "subtree": len(subtree_ids(team.pk)) > 1,
    }
    subject = f"{settings.ORG_NAME}: AI spend of {team.name} for {report.month:%B %Y}"
    try:
        with transaction.atomic():
            ChargebackEmail.objects.create(month=month, team=team, recipient=team.owner_email)
            message = EmailMultiAlternatives(
                subject,
                render_to_string("allocation/email/chargeback.txt", context),
                settings.DEFAULT_FROM_EMAIL,
                [team.owner_email],
                headers={"Auto-Submitted": "auto-generated"},
            )
            message.attach_alternative(
                render_to_string("allocation/email/chargeback.html", context), "text/html"
            )
            message.attach(
                f"chargeback-{report.label}-{team.pk}.csv", chargeback_csv(report), "text/csv"
            )
            message.send(fail_silently=False)
    except IntegrityError:
        return False  # already sent (or being sent) by another run
    return True
