"""Working days and office hours: deadlines (SLA, rectification) count only the time a hall is open.

China's holidays and 调休 (weekend days that become working days) come from `chinese_calendar`;
for a year it does not know yet (it raises NotImplementedError) we fall back to Monday-Friday, so a
deadline is never refused, only possibly a day off around a holiday not yet published.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

OFFICE_OPEN = dt.time(9, 0)
OFFICE_CLOSE = dt.time(17, 0)
OFFICE_SECONDS = (
    dt.datetime.combine(dt.date.min, OFFICE_CLOSE) - dt.datetime.combine(dt.date.min, OFFICE_OPEN)
).total_seconds()
MAX_SCAN_DAYS = 3660  # ten years: no legal deadline is further out


@lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> bool:
    """A working day of the hall: official calendar where known, otherwise Monday to Friday."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def next_workday(day: dt.date) -> dt.date:
    """`day` itself when it is a working day, else the first working day after it."""
    for _ in range(MAX_SCAN_DAYS):
        if is_workday(day):
            return day
        day += dt.timedelta(days=1)
    raise ValueError('no working day within ten years')


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The `days`-th working day after `start` (start itself not counted); 0 = start or the next working day."""
    if days < 0:
        raise ValueError('days must not be negative')
    if days == 0:
        return next_workday(start)
    day = start
    for _ in range(days):
        day = next_workday(day + dt.timedelta(days=1))
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is earlier)."""
    if end < start:
        return -working_days_between(end, start)
    return sum(1 for n in range(1, (end - start).days + 1) if is_workday(start + dt.timedelta(days=n)))


def _opening(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, OFFICE_OPEN, tzinfo=tz)


def _closing(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, OFFICE_CLOSE, tzinfo=tz)


def close_of_working_days(start: dt.datetime, days: int, tz: ZoneInfo) -> dt.datetime:
    """Office close of the `days`-th working day after the day of `start` (0 = close of that day, or the next open one).

    This is how "N个工作日内办结" is read: the day a matter is accepted is not counted.
    """
    local_day = start.astimezone(tz).date()
    return _closing(add_working_days(local_day, days), tz).astimezone(dt.UTC)


def add_working_hours(start: dt.datetime, hours: float, tz: ZoneInfo) -> dt.datetime:
    """`start` plus `hours` of office time (09:00-17:00 on working days); the clock stops outside them."""
    if hours < 0:
        raise ValueError('hours must not be negative')
    remaining = hours * 3600
    moment = start.astimezone(tz)
    for _ in range(MAX_SCAN_DAYS):
        day = moment.date()
        if is_workday(day) and moment < _closing(day, tz):
            moment = max(moment, _opening(day, tz))
            available = (_closing(day, tz) - moment).total_seconds()
            if remaining <= available:
                return (moment + dt.timedelta(seconds=remaining)).astimezone(dt.UTC)
            remaining -= available
        moment = _opening(day + dt.timedelta(days=1), tz)
    raise ValueError('deadline further than ten years away')


def working_seconds_between(start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> float:
    """Office seconds from `start` to `end` (negative when `end` is earlier): how much of an SLA is used or left."""
    if end < start:
        return -working_seconds_between(end, start, tz)
    first, last = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = first.date()
    while day <= last.date():
        if is_workday(day):
            lo = max(first, _opening(day, tz))
            hi = min(last, _closing(day, tz))
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += dt.timedelta(days=1)
    return total
