"""Booking slots (预约时段): when a service may be booked and how many places each slot has.

Slots are computed, never stored: a day's slots follow the hall's opening hours (app/services/hall_hours.py)
on working days only, so a holiday or weekend the hall is closed has none. A slot's places come from
staffing: windows serving the service (each for the share of the slot inside its own hours) × slot minutes /
the service's average handling minutes × the share open to bookings (BOOKING_SHARE), the rest staying for
walk-ins; at least one place whenever a window serving the service is open in the slot at all.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from app.services.hall_hours import is_working_day, opening


@dataclass(frozen=True)
class Slot:
    start: dt.datetime  # UTC
    end: dt.datetime
    capacity: int
    available: int


def slot_capacity(windows: float, slot_minutes: int, avg_handling_minutes: float, share: float) -> int:
    """Places in one slot; none when no window is open for it, else at least one.

    `windows` counts each window serving the service by the share of the slot it is open (0.5: half of it)."""
    if windows <= 0:
        return 0
    return max(1, math.floor(windows * slot_minutes / avg_handling_minutes * share + 1e-9))


def day_slots(day: dt.date, tz: ZoneInfo, minutes: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """[start, end) of each slot of a hall day in UTC; none on a day the hall is closed."""
    if not is_working_day(day):
        return []
    opens, closes = opening(day, tz)
    step = dt.timedelta(minutes=minutes)
    slots = []
    start = opens
    while start + step <= closes:
        slots.append((start, start + step))
        start += step
    return slots


def bookable_days(today: dt.date, count: int) -> list[dt.date]:
    """The next `count` working days from `today` (itself included when the hall opens that day)."""
    days: list[dt.date] = []
    day = today
    while len(days) < count:
        if is_working_day(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days
