"""The city at a glance (一网统管): every hall's queue, windows, alerts and today's satisfaction, for city managers.

Several halls share one database, so the figures come from it directly, not from any hall's process: one set
of five grouped queries serves every hall at once, however many there are. Definitions:

- waiting now: the hall's tickets of today still waiting for their first call (as the hall's own KPI counts);
- longest wait now: how long the earliest of those has waited so far (None while nobody waits);
- open windows: windows in state open, out of all the hall's windows;
- open alerts: alerts not yet resolved (acknowledged ones still count: the condition persists);
- satisfaction (好评率): today's satisfied ratings over today's ratings, counting only the latest rating of a
  ticket (a re-rating after rectification replaces the first), None before the first rating.

City totals add the halls up; the city's 好评率 weighs every rating alike (not the average of the halls' rates).
Only city managers (and the system) may read them: a hall's manager or admin sees their own hall, no other.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import case, func
from sqlmodel import col, select

from app.clock import hall_day
from app.models.cases import Evaluation
from app.models.hall import Hall, Window, WindowState
from app.models.operations import Alert
from app.models.people import Role
from app.models.ticket import Ticket, TicketStatus
from app.services.errors import Forbidden, NotFound
from app.services.kpi import day_bounds
from app.services.principal import Principal
from app.services.uow import Service


@dataclass(frozen=True)
class HallFigures:
    """One hall's line on /city."""

    code: str
    name: str
    name_en: str
    waiting: int = 0
    longest_wait_minutes: float | None = None
    windows_open: int = 0
    windows_total: int = 0
    open_alerts: int = 0
    ratings: int = 0
    satisfied: int = 0

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.ratings if self.ratings else None


@dataclass(frozen=True)
class CityFigures:
    """Every hall, and the city's totals, as of `at`."""

    at: dt.datetime
    halls: tuple[HallFigures, ...]

    @property
    def waiting(self) -> int:
        return sum(hall.waiting for hall in self.halls)

    @property
    def longest_wait_minutes(self) -> float | None:
        waits = [hall.longest_wait_minutes for hall in self.halls if hall.longest_wait_minutes is not None]
        return max(waits) if waits else None

    @property
    def windows_open(self) -> int:
        return sum(hall.windows_open for hall in self.halls)

    @property
    def windows_total(self) -> int:
        return sum(hall.windows_total for hall in self.halls)

    @property
    def open_alerts(self) -> int:
        return sum(hall.open_alerts for hall in self.halls)

    @property
    def ratings(self) -> int:
        return sum(hall.ratings for hall in self.halls)

    @property
    def satisfied_share(self) -> float | None:
        ratings = self.ratings
        return sum(hall.satisfied for hall in self.halls) / ratings if ratings else None

    def hall(self, code: str) -> HallFigures | None:
        return next((hall for hall in self.halls if hall.code == code), None)


def require_city(caller: Principal) -> None:
    """City managers and the system only: a hall's admin may everything in their hall, but not see the others."""
    if not (caller.is_system or (caller.is_staff and caller.role == Role.CITY)):
        raise Forbidden('forbidden', text='forbidden.city')


class CityOverviewService(Service):
    async def figures(self, caller: Principal) -> CityFigures:
        """Every hall's figures now, read in one read-only session (five queries whatever the number of halls)."""
        require_city(caller)
        now = self.clock()
        day = hall_day(now, self.settings.tz)
        start, end = day_bounds(day, self.settings.tz)
        async with self.db.read_session() as s:
            halls = list((await s.execute(select(Hall).order_by(col(Hall.id)))).scalars())
            waiting = {
                hall_id: (count, earliest)
                for hall_id, count, earliest in await s.execute(
                    select(Ticket.hall_id, func.count(), func.min(Ticket.taken_at))
                    .where(Ticket.day == day, Ticket.status == TicketStatus.WAITING)
                    .group_by(col(Ticket.hall_id))
                )
            }
            windows = {
                hall_id: (int(open_ or 0), total)
                for hall_id, open_, total in await s.execute(
                    select(
                        Window.hall_id,
                        func.sum(case((Window.state == WindowState.OPEN, 1), else_=0)),
                        func.count(),
                    ).group_by(col(Window.hall_id))
                )
            }
            alerts = dict(
                (
                    await s.execute(
                        select(Alert.hall_id, func.count())
                        .where(col(Alert.resolved_at).is_(None))
                        .group_by(col(Alert.hall_id))
                    )
                ).all()
            )
            replaced = select(Evaluation.replaces_id).where(col(Evaluation.replaces_id).is_not(None))
            ratings = {
                hall_id: (count, int(satisfied or 0))
                for hall_id, count, satisfied in await s.execute(
                    select(
                        Evaluation.hall_id,
                        func.count(),
                        func.sum(case((col(Evaluation.satisfied).is_(True), 1), else_=0)),
                    )
                    .where(
                        col(Evaluation.created_at) >= start,
                        col(Evaluation.created_at) < end,
                        col(Evaluation.id).not_in(replaced),
                    )
                    .group_by(col(Evaluation.hall_id))
                )
            }
        lines = []
        for hall in halls:
            assert hall.id is not None
            count, earliest = waiting.get(hall.id, (0, None))
            open_, total = windows.get(hall.id, (0, 0))
            rated, satisfied = ratings.get(hall.id, (0, 0))
            lines.append(
                HallFigures(
                    code=hall.code,
                    name=hall.name,
                    name_en=hall.name_en,
                    waiting=count,
                    longest_wait_minutes=_minutes_since(earliest, now) if count else None,
                    windows_open=open_,
                    windows_total=total,
                    open_alerts=int(alerts.get(hall.id, 0)),
                    ratings=rated,
                    satisfied=satisfied,
                )
            )
        return CityFigures(now, tuple(lines))

    async def find_hall(self, caller: Principal, code: str) -> int:
        """The id of the hall `code`, for a drill-down to its floor map (an unknown code is NotFound)."""
        require_city(caller)
        async with self.db.read_session() as s:
            found = (await s.execute(select(Hall.id).where(Hall.code == code))).scalar_one_or_none()
        if found is None:
            raise NotFound('unknown_hall_code', hall=code[:32])
        return found


def _minutes_since(moment: dt.datetime | None, now: dt.datetime) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands aggregates back without the column's type: naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (now - moment).total_seconds() / 60)
