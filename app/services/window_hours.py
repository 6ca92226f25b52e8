"""A window's own opening hours inside the hall's: a morning-only window, a lunch break, some weekdays only.

A window with no periods keeps the hall's hours (app/services/hall_hours.py). With periods it is open only
inside one of them; each period is `start`-`end` (HH:MM, start before end, within the hall's hours) on the
ISO weekdays it names (1 = Monday; none named: every day the hall opens). Booking capacity counts a window
only for the minutes it is open, the desk refuses to call outside them, and the guide shows them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from app.services.hall_hours import CLOSE_HOUR, OPEN_HOUR

ClockTime = Annotated[str, StringConstraints(pattern=r'^([01]\d|2[0-3]):[0-5]\d$')]
Weekday = Annotated[int, Field(ge=1, le=7)]


def minute_of(clock: str) -> int:
    """'09:30' -> 570: minutes after midnight."""
    hours, minutes = clock.split(':')
    return int(hours) * 60 + int(minutes)


class OpeningPeriod(BaseModel):
    """One stretch a window is open: `start`-`end` on `days` (ISO weekdays; empty: every day the hall opens)."""

    model_config = ConfigDict(extra='forbid', frozen=True)

    start: ClockTime
    end: ClockTime
    days: list[Weekday] = Field(default_factory=list)

    @field_validator('days')
    @classmethod
    def _distinct_days(cls, days: list[int]) -> list[int]:
        if len(set(days)) != len(days):
            raise ValueError('a weekday is named twice')
        return sorted(days)

    @model_validator(mode='after')
    def _inside_the_hall(self) -> OpeningPeriod:
        if minute_of(self.start) >= minute_of(self.end):
            raise ValueError(f'{self.start}-{self.end}: the start must come before the end')
        if minute_of(self.start) < OPEN_HOUR * 60 or minute_of(self.end) > CLOSE_HOUR * 60:
            raise ValueError(
                f'{self.start}-{self.end}: must lie within the hall hours {OPEN_HOUR:02d}:00-{CLOSE_HOUR:02d}:00'
            )
        return self

    def weekdays(self) -> frozenset[int]:
        return frozenset(self.days or range(1, 8))


def check_periods(periods: Sequence[OpeningPeriod]) -> None:
    """Two periods that share a weekday must not overlap (touching is fine: 09:00-12:00 and 12:00-13:00)."""
    for index, first in enumerate(periods):
        for second in periods[index + 1 :]:
            if first.weekdays() & second.weekdays() and (
                minute_of(first.start) < minute_of(second.end) and minute_of(second.start) < minute_of(first.end)
            ):
                raise ValueError(f'{first.start}-{first.end} and {second.start}-{second.end} overlap')


def periods_of(stored: Iterable[Mapping[str, Any]]) -> list[OpeningPeriod]:
    """The window row's JSON column as periods."""
    return [OpeningPeriod.model_validate(period) for period in stored]


def is_open_at(periods: Sequence[OpeningPeriod], moment: dt.datetime, tz: ZoneInfo) -> bool:
    """Inside one of the window's periods (no periods: the hall's hours decide, so always True here)."""
    if not periods:
        return True
    local = moment.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(
        local.isoweekday() in period.weekdays() and minute_of(period.start) <= minute < minute_of(period.end)
        for period in periods
    )


def open_share(periods: Sequence[OpeningPeriod], start: dt.datetime, end: dt.datetime, tz: ZoneInfo) -> float:
    """The share of [start, end) (one hall day's slot) the window is open: 1.0 without periods of its own."""
    if not periods:
        return 1.0
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    first = local_start.hour * 60 + local_start.minute
    last = first + round((local_end - local_start).total_seconds() / 60)
    if last <= first:
        return 0.0
    covered = sum(
        max(0, min(last, minute_of(period.end)) - max(first, minute_of(period.start)))
        for period in periods
        if local_start.isoweekday() in period.weekdays()
    )
    return covered / (last - first)
