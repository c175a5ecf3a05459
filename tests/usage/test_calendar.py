"""Period boundaries in the organisation's time zone, across month ends and DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import time_machine

from spendapp.usage.calendar import data_today, local_midnight, period_containing, week_of


@pytest.fixture
def new_york(settings):
    settings.ORG_TIME_ZONE = "America/New_York"


@pytest.fixture
def tokyo(settings):
    settings.ORG_TIME_ZONE = "Asia/Tokyo"


def test_late_evening_on_the_last_day_of_the_month_is_still_that_month_in_new_york(new_york):
    # 2026-04-01 03:30 UTC is 2026-03-31 23:30 in New York (EDT, UTC-4).
    with time_machine.travel(datetime(2026, 4, 1, 3, 30, tzinfo=UTC), tick=False):
        period = period_containing("month")
        assert (period.start, period.end) == (date(2026, 3, 1), date(2026, 3, 31))
        assert period.label == "March 2026"
        assert data_today() == date(2026, 4, 1)  # spend rows are dated by UTC day


def test_just_after_midnight_local_is_the_new_month(new_york):
    with time_machine.travel(datetime(2026, 4, 1, 4, 0, 1, tzinfo=UTC), tick=False):
        assert period_containing("month").start == date(2026, 4, 1)


def test_a_zone_ahead_of_utc_turns_the_month_before_utc_does(tokyo):
    # 2026-01-31 15:30 UTC is already 2026-02-01 00:30 in Tokyo.
    with time_machine.travel(datetime(2026, 1, 31, 15, 30, tzinfo=UTC), tick=False):
        assert period_containing("month").start == date(2026, 2, 1)


def test_month_boundaries_in_utc_follow_the_dst_change(new_york):
    # DST starts on 2026-03-08 in New York: March begins at UTC-5 and ends at UTC-4.
    period = period_containing("month", date(2026, 3, 15))
    assert period.start_utc == datetime(2026, 3, 1, 5, tzinfo=UTC)
    assert period.end_utc == datetime(2026, 4, 1, 4, tzinfo=UTC)
    # The month has 31 days but 743 hours, not 744.
    assert (period.end_utc - period.start_utc).total_seconds() / 3600 == 743


def test_the_day_of_the_autumn_change_has_25_hours_in_paris(settings):
    settings.ORG_TIME_ZONE = "Europe/Paris"
    start = local_midnight(date(2026, 10, 25))
    end = local_midnight(date(2026, 10, 26))
    assert (end - start).total_seconds() == 25 * 3600
    period = period_containing("month", date(2026, 10, 25))
    assert period.end_utc == datetime(2026, 10, 31, 23, tzinfo=UTC)  # CET after the change


def test_quarters_and_years(new_york):
    with time_machine.travel(datetime(2027, 1, 1, 2, tzinfo=UTC), tick=False):
        # Still New Year's Eve in New York.
        quarter = period_containing("quarter")
        assert (quarter.start, quarter.end, quarter.label) == (
            date(2026, 10, 1),
            date(2026, 12, 31),
            "Q4 2026",
        )
        year = period_containing("year")
        assert (year.start, year.end, year.days) == (date(2026, 1, 1), date(2026, 12, 31), 365)


def test_february_of_a_leap_year(new_york):
    period = period_containing("month", date(2028, 2, 10))
    assert (period.end, period.days) == (date(2028, 2, 29), 29)


def test_the_week_runs_monday_to_sunday_in_the_org_zone(tokyo):
    # Sunday 2026-11-22 16:00 UTC is Monday 01:00 in Tokyo.
    with time_machine.travel(datetime(2026, 11, 22, 16, tzinfo=UTC), tick=False):
        assert week_of() == (date(2026, 11, 23), date(2026, 11, 29))
