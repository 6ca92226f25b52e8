"""Reading the live queue state from the database: once per process at start-up, and again after a bus outage.

The state is then kept current by events (app/services/live_queue.py); this is only its starting point.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import as_utc
from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem, Window, WindowService
from app.models.ticket import PriorityClass, Ticket, TicketStatus
from app.services.live_queue import (
    ARRIVAL_WINDOW,
    RECENT_HANDLING_SAMPLES,
    BookedSlot,
    LiveQueue,
    WaitingNumber,
    WindowSlot,
)
from app.services.priority import Candidate

HANDLING_LOOKBACK = dt.timedelta(days=7)


async def read_live_queue(
    s: AsyncSession, *, hall_id: int, clock: Callable[[], dt.datetime], cap_minutes: Callable[[], float]
) -> LiveQueue:
    """The queues as the database has them now (the starting point of a LiveQueue fed by events)."""
    now = clock()
    services = {svc.id: svc for svc in (await s.execute(select(ServiceItem))).scalars() if svc.id is not None}
    links = await window_links(s)
    windows = list((await s.execute(select(Window).where(Window.hall_id == hall_id))).scalars())
    current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
    current = {
        ticket_id: (called_at, service_id, number)
        for ticket_id, called_at, service_id, number in await s.execute(
            select(Ticket.id, Ticket.called_at, Ticket.service_id, Ticket.number).where(col(Ticket.id).in_(current_ids))
        )
    }
    slots = {
        w.id: WindowSlot(links.get(w.id, {}), w.state, w.current_ticket_id, *current.get(w.current_ticket_id, ()))
        for w in windows
        if w.id
    }
    waiting: dict[int, dict[int, Candidate]] = defaultdict(dict)
    remote: set[int] = set()
    numbers: dict[int, WaitingNumber] = {}
    rows = await s.execute(
        select(
            Ticket.id,
            Ticket.service_id,
            Ticket.priority_class,
            Ticket.queued_at,
            Ticket.awaiting_arrival,
            Ticket.number,
            Ticket.taken_at,
        ).where(Ticket.hall_id == hall_id, Ticket.status == TicketStatus.WAITING)
    )
    for ticket_id, service_id, priority_class, queued_at, awaiting, number, taken_at in rows:
        waiting[service_id][ticket_id] = Candidate(ticket_id, PriorityClass(priority_class), queued_at, 1)
        numbers[ticket_id] = WaitingNumber(number, as_utc(taken_at))
        if awaiting:
            remote.add(ticket_id)
    recent: dict[int, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT_HANDLING_SAMPLES))
    handled = await s.execute(
        select(Ticket.service_id, Ticket.called_at, Ticket.completed_at)
        .where(
            Ticket.hall_id == hall_id,
            Ticket.status == TicketStatus.COMPLETED,
            col(Ticket.completed_at) >= now - HANDLING_LOOKBACK,
        )
        .order_by(col(Ticket.completed_at).desc())
        .limit(RECENT_HANDLING_SAMPLES * max(1, len(services)))
    )
    for service_id, called_at, completed_at in handled:
        if called_at and completed_at:
            recent[service_id].append((completed_at - called_at).total_seconds() / 60)
    arrived = await s.execute(
        select(Ticket.id, Ticket.service_id, Ticket.taken_at, Ticket.priority_class).where(
            Ticket.hall_id == hall_id, col(Ticket.taken_at) >= now - ARRIVAL_WINDOW
        )
    )
    arrivals = {
        ticket_id: (service_id, taken_at, priority_class == PriorityClass.GREEN)
        for ticket_id, service_id, taken_at, priority_class in arrived
    }
    return LiveQueue(
        services,
        slots,
        dict(waiting),
        dict(recent),
        arrivals,
        remote,
        await booked_ahead(s, hall_id=hall_id, now=now),
        numbers,
        clock=clock,
        cap_minutes=cap_minutes,
    )


async def booked_ahead(s: AsyncSession, *, hall_id: int, now: dt.datetime) -> dict[int, BookedSlot]:
    """Bookings still expected (BOOKED, slot not over): all of them up to the booking horizon, so a process
    running past midnight knows the next day's too; events keep them current from here."""
    rows = await s.execute(
        select(Appointment.id, Appointment.service_id, Appointment.slot_start, Appointment.slot_end).where(
            Appointment.hall_id == hall_id,
            Appointment.status == AppointmentStatus.BOOKED,
            col(Appointment.slot_end) > now,
        )
    )
    return {appointment_id: (service_id, as_utc(start), as_utc(end)) for appointment_id, service_id, start, end in rows}


async def window_links(s: AsyncSession) -> dict[int, dict[int, int]]:
    """What each window serves: {window id: {service id: tier}}."""
    links: dict[int, dict[int, int]] = defaultdict(dict)
    for link in (await s.execute(select(WindowService))).scalars():
        links[link.window_id][link.service_id] = link.priority
    return links
