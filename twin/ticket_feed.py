"""The live status of followed tickets for /track: one JSON text per change per ticket, shared by its open pages.

A ticket's channel (app/fanout.py) is made when its first page connects (whoever may follow it was decided by
the tracking service before: `TrackingService.follow`) and dropped when its last page leaves, so the feed holds
only tickets someone watches. What a page shows, as texts (`seq` is the channel's number):

    {"seq": 3, "status": "waiting", "window": null, "ahead": 4, "eta": 12}
    {"seq": 4, "status": "called", "window": 2, "ahead": null, "eta": null}
    {"seq": 5, "status": "transferred", ..., "to_hall": "东区", "to_service": "户籍", "new_number": null}

A ticket sent to another hall (跨区通办, app/services/ticket_handoff.py) says where it went and, once that hall
issued it, its new number: read once per handoff event of a followed ticket (`on_handoff`), never per page.

Each text is the whole status, so a page applies any text as the truth. Nothing personal: the status, the place
in the queue and the window, as the code alone shows today (app/services/tracking.py). A change of the ticket
itself goes out at once; places in the queue move with every other ticket of the service, so they are
recomputed at most four times a second, with one sort per service for all its followed tickets (not one scan
per ticket: a thousand followed tickets of one service would cost a million comparisons a change).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, replace

from app.events import Event, HandoffApplied, TicketEventBase, TicketHandedOff
from app.fanout import Channel
from app.models.ticket import TicketStatus
from app.services.live_queue import LiveQueue
from app.services.queue import QueueService
from app.services.ticket_handoff import HandoffView, TicketHandoffService
from app.services.tracking import Tracked

RECOUNT_INTERVAL = 0.25  # at most four place updates a second


@dataclass(frozen=True)
class Where:
    """Where a ticket sent to another hall goes: the hall, the service, and its number there once issued."""

    hall: str
    service: str
    number: str | None

    @classmethod
    def of(cls, handoff: HandoffView) -> Where:
        return cls(handoff.to_hall, handoff.to_service, handoff.new_number)


@dataclass(frozen=True)
class TicketStatusText:
    """What a followed ticket's pages show now."""

    status: str
    window: int | None
    ahead: int | None = None
    eta: int | None = None  # minutes
    where: Where | None = None  # a transferred ticket's other hall

    def text(self, seq: int) -> str:
        body: dict[str, object] = {
            'seq': seq,
            'status': self.status,
            'window': self.window,
            'ahead': self.ahead,
            'eta': self.eta,
        }
        if self.where is not None:
            where = self.where
            body |= {'to_hall': where.hall, 'to_service': where.service, 'new_number': where.number}
        return json.dumps(body, separators=(',', ':'), ensure_ascii=False)


class FollowedTicket:
    """One followed ticket: its status as last sent, the pages that hold it, and the channel they listen to."""

    def __init__(self, ticket_id: int, service_id: int, shown: TicketStatusText) -> None:
        self.ticket_id = ticket_id
        self.service_id = service_id
        self.shown = shown
        self.holders = 0  # pages admitted to this ticket and not yet gone (joining or listening)
        self.channel = Channel(shown.text)

    def show(self, shown: TicketStatusText) -> None:
        if shown != self.shown:
            self.shown = shown
            self.channel.publish(shown.text)


class TicketFeed:
    """Every followed ticket's channel, fed by ticket events from the bus and places from the live queue."""

    def __init__(
        self,
        queue: QueueService,
        *,
        handoffs: TicketHandoffService | None = None,
        recount_interval: float = RECOUNT_INTERVAL,
    ) -> None:
        """`handoffs` lets a transferred ticket say where it went (without it, only that it went)."""
        self.queue = queue
        self.handoffs = handoffs
        self.recount_interval = recount_interval
        self.tickets: dict[int, FollowedTicket] = {}
        self._dirty: set[int] = set()  # services whose places moved since the last recount
        self._lock = asyncio.Lock()
        self._handle: asyncio.Handle | None = None
        self._last_recount = -float('inf')

    async def hold(self, tracked: Tracked) -> FollowedTicket:
        """The ticket's live status for one more page (`release` it when the page goes); `tracked` was admitted by
        the tracking service and points at a ticket."""
        if tracked.ticket_id is None:
            raise ValueError('a code without a ticket has no live status')
        async with self._lock:
            followed = self.tickets.get(tracked.ticket_id)
            if followed is None:
                view = await self.queue.ticket_view_by_id(tracked.ticket_id)
                shown = self._status(tracked.ticket_id, tracked.service_id, view.ticket.status, view.window_number)
                if shown.status == TicketStatus.TRANSFERRED:
                    shown = replace(shown, where=await self._where(tracked.ticket_id))
                followed = FollowedTicket(tracked.ticket_id, tracked.service_id, shown)
                self.tickets[tracked.ticket_id] = followed
            followed.holders += 1
            return followed

    def release(self, followed: FollowedTicket) -> None:
        followed.holders -= 1
        if followed.holders <= 0 and self.tickets.get(followed.ticket_id) is followed:
            del self.tickets[followed.ticket_id]

    def on_ticket(self, event: Event) -> None:
        """A ticket moved: its own pages hear it at once; its service's followed places move at the next recount."""
        if not isinstance(event, TicketEventBase):
            return
        ticket = event.payload
        followed = self.tickets.get(ticket.id)
        if followed is not None:
            shown = self._status(ticket.id, ticket.service_id, ticket.status, ticket.window_number)
            if shown.status == TicketStatus.TRANSFERRED:  # where it went comes with `on_handoff`, in either order
                shown = replace(shown, where=followed.shown.where)
            followed.show(shown)
        if any(f.service_id == ticket.service_id for f in self.tickets.values()):
            self._dirty.add(ticket.service_id)
            self._schedule()

    async def on_handoff(self, event: Event) -> None:
        """A followed ticket went to another hall, or that hall issued its number: its pages hear where, now."""
        if isinstance(event, TicketHandedOff):
            ticket_id = event.payload.id
        elif isinstance(event, HandoffApplied):
            ticket_id = event.from_ticket_id
        else:
            return
        if ticket_id not in self.tickets:
            return
        where = await self._where(ticket_id)
        followed = self.tickets.get(ticket_id)
        if followed is not None and where is not None:
            followed.show(TicketStatusText(TicketStatus.TRANSFERRED, None, where=where))

    async def _where(self, ticket_id: int) -> Where | None:
        handoff = await self.handoffs.of_ticket(ticket_id) if self.handoffs is not None else None
        return Where.of(handoff) if handoff is not None else None

    def _schedule(self) -> None:
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_recount + self.recount_interval - time.monotonic()
        self._handle = loop.call_later(delay, self.recount) if delay > 0 else loop.call_soon(self.recount)

    def recount(self) -> None:
        """Each moved service's followed places again (each a bisect of the live queue's runs, `ahead_of`)."""
        self._handle = None
        self._last_recount = time.monotonic()
        dirty, self._dirty = self._dirty, set()
        live = self.queue.live
        if live is None:
            return
        now, cap = self.queue.clock(), self.queue.fairness_cap
        for service_id in dirty:
            waiting = live.waiting.get(service_id, {})
            for followed in [f for f in self.tickets.values() if f.service_id == service_id]:
                mine = waiting.get(followed.ticket_id)
                if mine is None or followed.shown.status != TicketStatus.WAITING:
                    continue
                ahead = live.ahead_of(mine, service_id, now=now, cap=cap)
                eta = _eta(live, service_id, ahead)
                followed.show(TicketStatusText(followed.shown.status, followed.shown.window, ahead, eta))

    def _status(self, ticket_id: int, service_id: int, status: str, window: int | None) -> TicketStatusText:
        """The ticket's status, with its place when it waits (a bisect of its service's runs, per event or join)."""
        live = self.queue.live
        if status != TicketStatus.WAITING or live is None:
            return TicketStatusText(status, window if status == TicketStatus.CALLED else None)
        mine = live.waiting.get(service_id, {}).get(ticket_id)
        if mine is None:
            return TicketStatusText(status, None)
        ahead = live.ahead_of(mine, service_id, now=self.queue.clock(), cap=self.queue.fairness_cap)
        return TicketStatusText(status, None, ahead, _eta(live, service_id, ahead))

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        for followed in self.tickets.values():
            followed.channel.close_all()


def _eta(live: LiveQueue, service_id: int, ahead: int) -> int | None:
    estimate = live.estimate(service_id, ahead)
    return round(estimate.minutes) if estimate is not None else None
