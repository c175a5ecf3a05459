"""The organisation's calendar: the one place that knows "today" and period bounds.

"Now" is an aware UTC instant; it becomes a calendar date in ``settings.ORG_TIME_ZONE`` here
and nowhere else. Spend rows are dated by UTC day, so a period holds the rows whose date lies
between its first and last local calendar day (a daily row cannot be split by the hour).

Every page, budget, alert, digest, forecast and command asks this module for "today", the
last complete day of data and month / quarter / year bounds; none computes its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

from forecasting import period_bounds

PERIOD_LABELS = {"month": "%B %Y", "quarter": None, "year": "%Y"}


def org_tz() -> ZoneInfo:
    return ZoneInfo(settings.ORG_TIME_ZONE)


def local_now(now: datetime | None = None) -> datetime:
    return (now or timezone.now()).astimezone(org_tz())


def local_midnight(day: date) -> datetime:
    """The UTC instant at which ``day`` starts in the org time zone (DST-safe)."""
    return datetime.combine(day, time(0), tzinfo=org_tz()).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    kind: str  # month / quarter / year
    start: date  # first local day
    end: date  # last local day (inclusive)

    @property
    def start_utc(self) -> datetime:
        return local_midnight(self.start)

    @property
    def end_utc(self) -> datetime:
        """Exclusive end: midnight after the last day, in UTC."""
        return local_midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        if self.kind == "quarter":
            return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"
        return self.start.strftime(PERIOD_LABELS[self.kind])

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def period_containing(kind: str, when: datetime | date | None = None) -> Period:
    """The month, quarter or year that contains ``when`` (default: now) in the org's zone."""
    if when is None or isinstance(when, datetime):
        when = local_now(when).date()
    start, end = period_bounds(when, kind)
    return Period(kind, start.date(), end.date())


def week_of(now: datetime | None = None) -> tuple[date, date]:
    """Monday and Sunday of the local week containing ``now``."""
    today = local_now(now).date()
    monday = today - timedelta(days=today.weekday())
    return monday, monday + timedelta(days=6)


def data_today(now: datetime | None = None) -> date:
    """The newest (partial) day of the spend rows, which are dated by UTC day."""
    return (now or timezone.now()).astimezone(UTC).date()


def last_complete_day(last_data_day: date | None, now: datetime | None = None) -> date | None:
    """The last complete day of actuals: yesterday (UTC days, as the rows are dated), or the
    day before the last day with data when that is older (a sync that stalled part-way
    through its last day must not show up as days of zero spend). None without data."""
    if last_data_day is None:
        return None
    yesterday = data_today(now) - timedelta(days=1)
    return yesterday if last_data_day >= yesterday else last_data_day - timedelta(days=1)


def complete_weeks(last_complete: date) -> tuple[tuple[date, date], tuple[date, date]]:
    """The 7 complete days ending at ``last_complete`` and the 7 before them: what every
    "vs last week" delta compares (never a week holding today's partial day)."""
    this_start = last_complete - timedelta(days=6)
    prev_start = this_start - timedelta(days=7)
    return (this_start, last_complete), (prev_start, this_start - timedelta(days=1))
