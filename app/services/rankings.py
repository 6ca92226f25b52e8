"""评价结果公开: satisfaction per window, department and staff member for one month, from the ratings in force.

The public page `/ranking` shows windows and departments only (no person is named there); the managers'
page adds the staff by their display names. A month's ranking is computed once and shared by every
reader until a rating or a rectification changes it (bus events), and at most an hour in any case, so
many anonymous browsers cost one query per change, not one per visit.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, replace

from app.bus import Subscription
from app.events import EvaluationSubmitted, Event, RectificationChanged
from app.models.people import Role
from app.services import satisfaction
from app.services.deps import Deps
from app.services.errors import Invalid
from app.services.principal import Principal
from app.services.recent import Recent
from app.services.satisfaction import SatisfactionRow
from app.services.uow import Service

CACHE_SECONDS = 3600.0
MONTHS_SHOWN = 12  # the selector offers this month and the eleven before it
MONTH_PATTERN = re.compile(r'[0-9]{4}-[0-9]{2}')  # ASCII digits only (\d would take ２０２６ too)


@dataclass(frozen=True)
class MonthRanking:
    """One month's ratings in force: best satisfaction first, then more ratings first."""

    month: dt.date  # its first day
    ratings: int
    satisfied: int
    windows: list[SatisfactionRow]
    departments: list[SatisfactionRow]
    staff: list[SatisfactionRow]  # empty in the public ranking

    @property
    def rate(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None


def _ranked(rows: list[SatisfactionRow]) -> list[SatisfactionRow]:
    named = [row for row in rows if row.key is not None and row.name and row.ratings]
    return sorted(named, key=lambda row: (-(row.rate or 0.0), -row.ratings, row.name))


class RankingService(Service):
    """The month's satisfaction rankings, cached for everyone; follows ratings on the bus to stay current."""

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.recent: Recent[MonthRanking] = Recent(CACHE_SECONDS)
        self._subscription: Subscription | None = None

    def months(self) -> list[dt.date]:
        """The months one may pick, newest first (the hall's calendar)."""
        today = self.clock().astimezone(self.settings.tz).date()
        first = today.replace(day=1)
        shown = []
        for _ in range(MONTHS_SHOWN):
            shown.append(first)
            first = (first - dt.timedelta(days=1)).replace(day=1)
        return shown

    def month(self, text: str | None) -> dt.date:
        """A month from a link (`2026-11`), or this month when none is given; anything else is refused."""
        offered = self.months()
        if not text:
            return offered[0]
        if len(text) != 7 or not MONTH_PATTERN.fullmatch(text):
            raise Invalid('month_invalid')
        year, number = int(text[:4]), int(text[5:])
        if not 1 <= number <= 12:
            raise Invalid('month_invalid')
        for month in offered:  # compared as numbers: year 0000 is no date at all
            if (month.year, month.month) == (year, number):
                return month
        raise Invalid('month_out_of_range', months=MONTHS_SHOWN)

    async def public(self, month: dt.date) -> MonthRanking:
        """Windows and departments only: what the hall publishes (评价结果公开)."""
        ranking = await self._ranking(month)
        return replace(ranking, staff=[])

    async def for_manager(self, caller: Principal, month: dt.date) -> MonthRanking:
        """The public ranking plus the staff by display name (managers only)."""
        caller.require(Role.MANAGER)
        return await self._ranking(month)

    async def _ranking(self, month: dt.date) -> MonthRanking:
        if month not in self.months():
            raise Invalid('month_out_of_range', months=MONTHS_SHOWN)
        return await self.recent.get(month, lambda: self._compute(month))

    async def _compute(self, month: dt.date) -> MonthRanking:
        tz = self.settings.tz
        since = dt.datetime(month.year, month.month, 1, tzinfo=tz).astimezone(dt.UTC)
        after = (month + dt.timedelta(days=32)).replace(day=1)
        until = dt.datetime(after.year, after.month, 1, tzinfo=tz).astimezone(dt.UTC)
        hall = await satisfaction.overall(self.db, self.hall_id, since=since, until=until)
        return MonthRanking(
            month,
            hall.ratings,
            hall.satisfied,
            _ranked(await satisfaction.by_window(self.db, self.hall_id, since=since, until=until)),
            _ranked(await satisfaction.by_department(self.db, self.hall_id, since=since, until=until)),
            _ranked(await satisfaction.by_staff(self.db, self.hall_id, since=since, until=until)),
        )

    def attach(self) -> None:
        """Forget the cached months when a rating, a re-rating or an appeal decision comes (any process)."""
        if self.bus is not None and self._subscription is None:
            self._subscription = self.bus.subscribe(
                self._changed, EvaluationSubmitted, RectificationChanged, name='rankings'
            )

    async def detach(self) -> None:
        if self._subscription is not None and self.bus is not None:
            self.bus.unsubscribe(self._subscription)
            self._subscription = None

    def _changed(self, _: Event) -> None:
        self.recent.clear()
