"""What the queue looks like to a reader: a ticket's place and wait, and the hall's windows and queues.

Positions and estimates come from the live queue state (no query) when the process keeps one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.hall import ServiceItem, Window
from app.models.ticket import PriorityClass, Ticket, TicketStatus
from app.services import eta
from app.services.errors import NotFound
from app.services.live_loading import window_links
from app.services.priority import Candidate
from app.services.queue_core import QueueCore


@dataclass(frozen=True)
class TicketView:
    """A ticket with what a citizen wants to know: where they stand and how long it may take."""

    ticket: Ticket
    service: ServiceItem
    window_number: int | None
    position: int | None
    estimate: eta.Estimate | None


@dataclass(frozen=True)
class ServiceQueue:
    service: ServiceItem
    waiting: int
    estimate: eta.Estimate | None
    oldest_queued_at: dt.datetime | None


@dataclass(frozen=True)
class WindowView:
    window: Window
    service_ids: dict[int, int]
    current: Ticket | None


@dataclass(frozen=True)
class HallOverview:
    windows: list[WindowView]
    queues: list[ServiceQueue]


class QueueViews(QueueCore):
    """Reads: a ticket's view, and the hall's overview (the twin's starting point)."""

    async def ticket_view(self, code: str) -> TicketView:
        async with self.db.read_session() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.code == code))).scalar_one_or_none()
            if ticket is None:
                raise NotFound('unknown_ticket')
            return await self._view(s, ticket)

    async def ticket_view_by_id(self, ticket_id: int) -> TicketView:
        async with self.db.read_session() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound('unknown_ticket')
            return await self._view(s, ticket)

    async def _settled(
        self, s: AsyncSession, ticket: Ticket, service: ServiceItem, window: Window | None = None
    ) -> TicketView | None:
        """The ticket's view from what the transaction already holds (`window`: the one the command locked), so no
        read follows the write.

        A waiting ticket needs its position and estimate: from the live queue state when there is one;
        without it (tests, scripts) the view is read after commit instead (None here).
        """
        if ticket.status == TicketStatus.WAITING and self.live is None:
            return None
        return await self._view(s, ticket, service, window)

    async def _view(
        self, s: AsyncSession, ticket: Ticket, service: ServiceItem | None = None, window: Window | None = None
    ) -> TicketView:
        """`window` is used when it is the ticket's: a window read by Core is not in the session, `s.get` would read
        it again."""
        service = service or await s.get(ServiceItem, ticket.service_id)
        assert service is not None
        if ticket.window_id is None:
            window = None
        elif window is None or window.id != ticket.window_id:
            window = await s.get(Window, ticket.window_id)
        position = estimate = None
        if ticket.status == TicketStatus.WAITING:
            live = self.live or await self.live_state(s)
            mine = Candidate(ticket.id or 0, PriorityClass(ticket.priority_class), ticket.queued_at, 1)
            ahead = live.ahead_of(mine, ticket.service_id, now=self.clock(), cap=self.fairness_cap)
            position = ahead + 1
            estimate = live.estimate(ticket.service_id, ahead)
        return TicketView(ticket, service, window.number if window else None, position, estimate)

    async def overview(self) -> HallOverview:
        async with self.db.read_session() as s:
            live = self.live or await self.live_state(s)
            windows = list(
                (
                    await s.execute(select(Window).where(Window.hall_id == self.hall_id).order_by(Window.number))
                ).scalars()
            )
            links = await window_links(s)
            current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
            current = (
                {t.id: t for t in (await s.execute(select(Ticket).where(col(Ticket.id).in_(current_ids)))).scalars()}
                if current_ids
                else {}
            )
        queues = [
            ServiceQueue(
                service=service,
                waiting=live.waiting_count(sid),
                estimate=live.estimate(sid, live.waiting_count(sid)),
                oldest_queued_at=live.oldest(sid),
            )
            for sid, service in sorted(live.services.items(), key=lambda item: item[1].code)
        ]
        return HallOverview(
            windows=[WindowView(w, links.get(w.id or 0, {}), current.get(w.current_ticket_id or 0)) for w in windows],
            queues=queues,
        )
