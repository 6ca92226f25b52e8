"""Working days with China's holidays and 调休, office hours, and SLA levels measured in working time."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from app.services import workdays
from app.services.workflow import SlaLevel, sla_level

TZ = ZoneInfo('Asia/Shanghai')


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TZ)


def test_national_day_2026_is_off_and_the_saturday_after_it_is_worked() -> None:
    assert not workdays.is_workday(dt.date(2026, 10, 1))
    assert not workdays.is_workday(dt.date(2026, 10, 7))
    assert workdays.is_workday(dt.date(2026, 10, 10))  # 调休: a Saturday that is a working day
    assert not workdays.is_workday(dt.date(2026, 10, 11))


def test_a_year_the_calendar_does_not_know_falls_back_to_monday_to_friday() -> None:
    assert workdays.is_workday(dt.date(2031, 1, 6))  # a Monday
    assert not workdays.is_workday(dt.date(2031, 1, 4))  # a Saturday


@pytest.mark.parametrize(
    ('start', 'days', 'expected'),
    [
        (dt.date(2026, 9, 29), 1, dt.date(2026, 9, 30)),
        (dt.date(2026, 9, 29), 2, dt.date(2026, 10, 8)),  # the Golden Week is skipped
        (dt.date(2026, 9, 30), 5, dt.date(2026, 10, 13)),  # 8, 9, 10 (Saturday, 调休), 12, 13
        (dt.date(2026, 10, 1), 0, dt.date(2026, 10, 8)),  # 0 days from a holiday: the next working day
        (dt.date(2026, 11, 27), 0, dt.date(2026, 11, 27)),
    ],
)
def test_adding_working_days(start: dt.date, days: int, expected: dt.date) -> None:
    assert workdays.add_working_days(start, days) == expected
    if days:
        assert workdays.working_days_between(start, expected) == days


def test_office_hours_stop_the_clock_overnight_and_over_holidays() -> None:
    assert workdays.add_working_hours(local(2026, 9, 30, 15), 4, TZ) == local(2026, 10, 8, 11)
    assert workdays.add_working_hours(local(2026, 11, 27, 8), 2, TZ) == local(2026, 11, 27, 11)  # before opening
    assert workdays.add_working_hours(local(2026, 11, 27, 18), 1, TZ) == local(2026, 11, 30, 10)  # Friday night
    assert workdays.working_seconds_between(local(2026, 9, 30, 15), local(2026, 10, 8, 11), TZ) == 4 * 3600


def test_n_working_days_end_at_office_close_of_the_nth_day() -> None:
    accepted = local(2026, 9, 30, 10)
    assert workdays.close_of_working_days(accepted, 1, TZ) == local(2026, 10, 8, 17)
    assert workdays.close_of_working_days(accepted, 0, TZ) == local(2026, 9, 30, 17)


def test_sla_level_counts_working_time_not_wall_time() -> None:
    started, due = local(2026, 9, 30, 9), local(2026, 10, 8, 17)  # 16 working hours
    assert sla_level(started, due, local(2026, 9, 30, 16), TZ) == SlaLevel.OK
    # Seven holiday days pass, yet 8 of 16 working hours are left: still fine
    assert sla_level(started, due, local(2026, 10, 7, 23), TZ) == SlaLevel.OK
    assert sla_level(started, due, local(2026, 10, 8, 14), TZ) == SlaLevel.AT_RISK  # 3 of 16 hours left (< 20%)
    assert sla_level(started, due, local(2026, 10, 8, 17), TZ) == SlaLevel.OVERDUE
