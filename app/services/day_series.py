"""Today's series for the manager's charts: arrivals per hour, the spread of waits, queue length per service.

Queue lengths are rebuilt from the TicketEvent log (every transition is there with its from/to
status), so the chart shows what really happened, minute by minute, without sampling.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from app.db import Database
from app.models.hall import ServiceItem
from app.models.ticket import Ticket, TicketEvent, TicketStatus
from app.services.kpi import TicketTimes, day_bounds, wait_minutes

WAIT_BIN_MINUTES = 5
MAX_QUEUE_LINES = 8


@dataclass(frozen=True)
class QueueStep:
    """One change of one service's queue: at this moment it became `length` long."""

    at: dt.datetime
    length: int


@dataclass
class DaySeries:
    day: dt.date
    arrivals_by_hour: dict[int, int] = field(default_factory=dict)
    wait_bins: dict[int, int] = field(default_factory=dict)  # lower edge in minutes -> tickets
    queue_lines: dict[str, list[QueueStep]] = field(default_factory=dict)  # service name -> steps


def arrivals_by_hour(taken: Iterable[dt.datetime], tz: ZoneInfo) -> dict[int, int]:
    counts = Counter(moment.astimezone(tz).hour for moment in taken)
    return dict(sorted(counts.items()))


def wait_histogram(
    tickets: Iterable[TicketTimes], now: dt.datetime, bin_minutes: int = WAIT_BIN_MINUTES
) -> dict[int, int]:
    """Tickets per wait band (0-5, 5-10, ... minutes): called ones with their wait, waiting ones so far."""
    counts: Counter[int] = Counter()
    for ticket in tickets:
        minutes = wait_minutes(ticket, now)
        if minutes is not None:
            counts[int(minutes // bin_minutes) * bin_minutes] += 1
    return dict(sorted(counts.items()))


def queue_steps(
    events: Iterable[tuple[dt.datetime, int | None, str | None, str]],
) -> dict[int, list[QueueStep]]:
    """Per service id, the queue length after each change, from (at, service_id, from_status, to_status) in time order.

    Entering 'waiting' (issued, transferred in) adds one; leaving it (called, cancelled) removes one;
    a transfer moves a ticket that was being served (called) into the new service's queue.
    """
    lengths: Counter[int] = Counter()
    steps: dict[int, list[QueueStep]] = {}
    for at, service_id, from_status, to_status in events:
        if service_id is None:
            continue
        entering = to_status == TicketStatus.WAITING and from_status != TicketStatus.WAITING
        leaving = from_status == TicketStatus.WAITING and to_status != TicketStatus.WAITING
        if not (entering or leaving):
            continue
        lengths[service_id] = max(0, lengths[service_id] + (1 if entering else -1))
        steps.setdefault(service_id, []).append(QueueStep(at, lengths[service_id]))
    return steps


def busiest(steps: dict[int, list[QueueStep]], limit: int = MAX_QUEUE_LINES) -> list[int]:
    """The services whose queue grew longest today (a chart with 20 lines is unreadable)."""
    peaks = {sid: max(step.length for step in line) for sid, line in steps.items() if line}
    return sorted(peaks, key=lambda sid: (-peaks[sid], sid))[:limit]


async def today(db: Database, hall_id: int, *, now: dt.datetime, tz: ZoneInfo) -> DaySeries:
    day = now.astimezone(tz).date()
    start, end = day_bounds(day, tz)
    async with db.read_session() as s:
        tickets = [
            TicketTimes(*row)
            for row in await s.execute(
                select(
                    Ticket.status, Ticket.taken_at, Ticket.first_called_at, Ticket.called_at, Ticket.completed_at
                ).where(Ticket.hall_id == hall_id, Ticket.day == day)
            )
        ]
        events = list(
            await s.execute(
                select(TicketEvent.at, TicketEvent.service_id, TicketEvent.from_status, TicketEvent.to_status)
                .where(TicketEvent.hall_id == hall_id, col(TicketEvent.at) >= start, col(TicketEvent.at) < end)
                .order_by(col(TicketEvent.at), col(TicketEvent.id))
            )
        )
        names = {svc.id: svc.name for svc in (await s.execute(select(ServiceItem))).scalars()}
    steps = queue_steps(events)
    return DaySeries(
        day=day,
        arrivals_by_hour=arrivals_by_hour((t.taken_at for t in tickets), tz),
        wait_bins=wait_histogram(tickets, now),
        queue_lines={names.get(sid, str(sid)): steps[sid] for sid in busiest(steps)},
    )
