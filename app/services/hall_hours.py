"""When the hall is open: working days (China's holidays and 调休 make-up days) and opening hours.

Shared by the forecast (which days have arrivals), the hall simulator (when citizens come) and
replay (the slider spans today's opening hours), so all three agree on one calendar.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

OPEN_HOUR = 8  # first hour with arrivals (08:00)
CLOSE_HOUR = 18  # the hall stops issuing numbers at 18:00
HOURS = tuple(range(OPEN_HOUR, CLOSE_HOUR))


@lru_cache(maxsize=4096)
def is_working_day(day: dt.date) -> bool:
    """China's official calendar where chinese_calendar knows the year, else Monday to Friday.

    chinese_calendar raises NotImplementedError for years it has no data for (it is updated each
    December when the State Council publishes the next year's holidays).
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def after_long_closure(day: dt.date) -> bool:
    """The first working day after three or more closed days in a row (a holiday, not a plain weekend)."""
    if not is_working_day(day):
        return False
    closed = 0
    previous = day - dt.timedelta(days=1)
    while closed < 3 and not is_working_day(previous):
        closed += 1
        previous -= dt.timedelta(days=1)
    return closed >= 3


def next_working_day(day: dt.date) -> dt.date:
    """`day` itself when it is a working day, else the next one."""
    while not is_working_day(day):
        day += dt.timedelta(days=1)
    return day


def local_moment(day: dt.date, hour: int, tz: ZoneInfo, minute: int = 0) -> dt.datetime:
    """An hour of a hall day as an aware UTC moment (what the database stores)."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(dt.UTC)


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a hall day in UTC."""
    return local_moment(day, 0, tz), local_moment(day + dt.timedelta(days=1), 0, tz)


def opening(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """[opening, closing) of a hall day in UTC."""
    return local_moment(day, OPEN_HOUR, tz), local_moment(day, CLOSE_HOUR, tz)


def is_open(moment: dt.datetime, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    return is_working_day(local.date()) and OPEN_HOUR <= local.hour < CLOSE_HOUR


def hour_label(hours: list[int]) -> str:
    """Hours as ranges: [9, 10, 14] -> '9:00-11:00、14:00-15:00' (consecutive hours merged)."""
    ranges: list[list[int]] = []
    for hour in sorted(hours):
        if ranges and ranges[-1][1] == hour:
            ranges[-1][1] = hour + 1
        else:
            ranges.append([hour, hour + 1])
    return '、'.join(f'{start}:00-{end}:00' for start, end in ranges)
