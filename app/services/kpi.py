"""The hall's key figures for today, as a manager reads them at a glance.

Waits are measured from taking the number to the first call (what the citizen lived through; a
transfer keeps the original wait). A ticket still waiting counts towards the longest wait with
the time it has waited so far. Satisfaction reads the evaluations (好差评) of today, counting
only the latest rating of a ticket (a re-rating after rectification replaces the first).
`None` means "no data yet" and is shown as a dash, never as zero. 线上办理率 is the share of today's
tickets that began online: booked (an appointment checked in) or taken remotely on the phone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from statistics import fmean
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, not_, or_
from sqlmodel import col, select

from app.db import Database
from app.models.cases import Evaluation
from app.models.device import Device, DeviceState
from app.models.hall import Window, WindowState
from app.models.ticket import Channel, Ticket, TicketStatus


@dataclass(frozen=True)
class TicketTimes:
    """The moments of one ticket that the figures need."""

    status: str
    taken_at: dt.datetime
    first_called_at: dt.datetime | None
    called_at: dt.datetime | None
    completed_at: dt.datetime | None
    online: bool = False  # booked or taken remotely


@dataclass
class Kpis:
    """Today's figures; the twin's KpiTwin is this class made bindable (so not frozen), refreshed by the feed."""

    waiting_now: int = 0
    avg_wait_minutes: float | None = None
    longest_wait_minutes: float | None = None
    avg_handling_minutes: float | None = None
    served_today: int = 0
    windows_open: int = 0
    windows_total: int = 0
    devices_online: int = 0
    devices_total: int = 0
    satisfaction_score: float | None = None
    satisfied_share: float | None = None
    ratings: int = 0
    online_share: float | None = None  # 线上办理率: today's tickets booked or taken remotely

    @property
    def device_availability(self) -> float | None:
        return self.devices_online / self.devices_total if self.devices_total else None


@dataclass(frozen=True)
class Rating:
    score: int
    satisfied: bool


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    """The hall's calendar day as a UTC interval [start, end)."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


def wait_minutes(ticket: TicketTimes, now: dt.datetime) -> float | None:
    """How long the citizen waited for the first call (so far, if still waiting); None for a cancelled ticket."""
    if ticket.first_called_at is not None:
        return max(0.0, (ticket.first_called_at - ticket.taken_at).total_seconds() / 60)
    if ticket.status == TicketStatus.WAITING:
        return max(0.0, (now - ticket.taken_at).total_seconds() / 60)
    return None


@dataclass(frozen=True)
class NotYetCalled:
    """Today's waiting tickets never called, counted in the database (one row however many wait): how many, when
    the oldest was taken, and how many began online. Their only figures are the count and the longest wait."""

    count: int = 0
    oldest_taken_at: dt.datetime | None = None
    online: int = 0


def ticket_figures(
    tickets: Iterable[TicketTimes], now: dt.datetime, not_called: NotYetCalled = NotYetCalled()
) -> dict[str, float | int | None]:
    """Waiting now, average wait of those called, longest wait (called or still waiting), average handling; the
    tickets one by one and the never-called waiting ones as counted (`not_called`)."""
    waited: list[float] = []
    longest: float | None = None
    handling: list[float] = []
    waiting = not_called.count
    if not_called.oldest_taken_at is not None:
        longest = max(0.0, (now - not_called.oldest_taken_at).total_seconds() / 60)
    for ticket in tickets:
        if ticket.status == TicketStatus.WAITING:
            waiting += 1
        minutes = wait_minutes(ticket, now)
        if minutes is not None:
            longest = minutes if longest is None else max(longest, minutes)
            if ticket.first_called_at is not None:
                waited.append(minutes)
        if ticket.status == TicketStatus.COMPLETED and ticket.called_at and ticket.completed_at:
            handling.append((ticket.completed_at - ticket.called_at).total_seconds() / 60)
    return {
        'waiting_now': waiting,
        'avg_wait_minutes': fmean(waited) if waited else None,
        'longest_wait_minutes': longest,
        'avg_handling_minutes': fmean(handling) if handling else None,
        'served_today': len(handling),
    }


def online_share(tickets: Iterable[TicketTimes], not_called: NotYetCalled = NotYetCalled()) -> float | None:
    """Share of the tickets that began online (booked or remote); None before the day's first ticket."""
    items = list(tickets)
    total = len(items) + not_called.count
    return (sum(t.online for t in items) + not_called.online) / total if total else None


def satisfaction(ratings: Iterable[Rating]) -> tuple[float | None, float | None, int]:
    """Average score (1-5), share satisfied, number of ratings."""
    items = list(ratings)
    if not items:
        return None, None, 0
    return fmean(r.score for r in items), sum(r.satisfied for r in items) / len(items), len(items)


async def today(db: Database, hall_id: int, *, now: dt.datetime, tz: ZoneInfo) -> Kpis:
    """Every figure for the hall's current day, read in one read-only session. The tickets still waiting for a
    first call are counted in the database, not read: a refresh costs the same with 1,000 waiting as with none."""
    day = now.astimezone(tz).date()
    start, end = day_bounds(day, tz)
    of_today = (Ticket.hall_id == hall_id, Ticket.day == day)
    never_called = and_(Ticket.status == TicketStatus.WAITING, col(Ticket.first_called_at).is_(None))
    online = or_(col(Ticket.appointment_id).is_not(None), Ticket.channel == Channel.MOBILE)
    async with db.read_session() as s:
        rows = await s.execute(
            select(
                Ticket.status,
                Ticket.taken_at,
                Ticket.first_called_at,
                Ticket.called_at,
                Ticket.completed_at,
                online,
            ).where(*of_today, not_(never_called))
        )
        tickets = [TicketTimes(*times, online=bool(began_online)) for *times, began_online in rows]
        count, oldest, online_count = (
            await s.execute(
                select(func.count(), func.min(Ticket.taken_at), func.count().filter(online)).where(
                    *of_today, never_called
                )
            )
        ).one()
        not_called = NotYetCalled(count, oldest, online_count)
        windows = dict(
            (
                await s.execute(
                    select(Window.state, func.count()).where(Window.hall_id == hall_id).group_by(Window.state)
                )
            ).all()
        )
        devices = dict(
            (
                await s.execute(
                    select(Device.state, func.count())
                    .where(Device.hall_id == hall_id, col(Device.retired_at).is_(None))
                    .group_by(Device.state)
                )
            ).all()
        )
        replaced = select(Evaluation.replaces_id).where(col(Evaluation.replaces_id).is_not(None))
        ratings = [
            Rating(score, satisfied)
            for score, satisfied in await s.execute(
                select(Evaluation.score, Evaluation.satisfied).where(
                    Evaluation.hall_id == hall_id,
                    col(Evaluation.created_at) >= start,
                    col(Evaluation.created_at) < end,
                    col(Evaluation.id).not_in(replaced),
                )
            )
        ]
    figures = ticket_figures(tickets, now, not_called)
    score, share, count = satisfaction(ratings)
    return Kpis(
        waiting_now=int(figures['waiting_now'] or 0),
        avg_wait_minutes=figures['avg_wait_minutes'],
        longest_wait_minutes=figures['longest_wait_minutes'],
        avg_handling_minutes=figures['avg_handling_minutes'],
        served_today=int(figures['served_today'] or 0),
        windows_open=int(windows.get(WindowState.OPEN, 0)),
        windows_total=int(sum(windows.values())),
        devices_online=int(devices.get(DeviceState.ONLINE, 0)),
        devices_total=int(sum(devices.values())),
        satisfaction_score=score,
        satisfied_share=share,
        ratings=count,
        online_share=online_share(tickets, not_called),
    )
