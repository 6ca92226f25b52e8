"""Queue notices for waiting citizens: "前面还有3人" and "请到5号窗口", written to the outbox from bus events.

The queue engine knows nothing of notifications; this subscriber reads its events and the in-memory
queues (no query for positions) and writes a notice once per ticket and reason. Dedupe keys make a
replayed event harmless: "near" once per ticket, "called" once per call event (a recall is a new call).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import OrderedDict

from app.bus import Bus, Subscription
from app.events import Event, TicketCalled, TicketEventBase, TicketResumed, TicketTransferred
from app.models.ticket import Ticket
from app.services import notifications
from app.services.deps import Deps
from app.services.live_queue import LiveQueue
from app.services.messages import Template, message
from app.services.priority import order_key
from app.services.uow import Service

NEAR_AHEAD = 3
REMEMBERED = 50_000


class QueueNotices(Service):
    bus: Bus

    def __init__(self, deps: Deps, live: LiveQueue, notifier: notifications.NotificationService) -> None:
        super().__init__(deps)
        self.live = live
        self.notifier = notifier
        self._told: OrderedDict[int, None] = OrderedDict()
        self._subscription: Subscription | None = None

    def attach(self) -> None:
        self._subscription = self.bus.subscribe(self.on_event, TicketEventBase, name='queue-notices')

    def detach(self) -> None:
        if self._subscription is not None:
            self.bus.unsubscribe(self._subscription)
            self._subscription = None

    def near(self, service_id: int) -> list[tuple[int, int]]:
        """(ticket id, people ahead) for the waiting tickets 1..NEAR_AHEAD places from the front."""
        now, cap = self.clock(), dt.timedelta(minutes=self.rules.fairness_cap_minutes)  # the queue's own
        front = NEAR_AHEAD + 1  # the front of the queue only: no sort of the whole queue per event
        waiting = heapq.nsmallest(
            front, self.live.waiting.get(service_id, {}).values(), key=lambda c: order_key(c, now=now, cap=cap)
        )
        return [(candidate.ticket_id, ahead) for ahead, candidate in enumerate(waiting) if 1 <= ahead <= NEAR_AHEAD]

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, TicketEventBase) or event.hall_id != self.hall_id:
            return
        self.live.apply(event)  # idempotent: the live queue skips an event it has seen
        ticket = event.payload
        services = {ticket.service_id}
        if isinstance(event, TicketTransferred):
            services.add(event.from_service_id)
        called = isinstance(event, TicketCalled | TicketResumed) and ticket.window_number is not None
        near = [(tid, ahead) for sid in services for tid, ahead in self.near(sid) if tid not in self._told]
        if not called and not near:
            return
        now = self.clock()
        written = 0
        async with self._transaction() as uow:
            s = uow.session
            if called:
                row = await s.get(Ticket, ticket.id)
                written += await notifications.add(
                    s,
                    hall_id=self.hall_id,
                    key=f'called:{ticket.id}:{event.id}',
                    kind='called',
                    message=message(Template.CALLED, number=ticket.number, window=ticket.window_number),
                    now=now,
                    ticket_id=ticket.id,
                    citizen_id=row.citizen_id if row else None,
                )
            for ticket_id, ahead in near:
                row = await s.get(Ticket, ticket_id)
                if row is None:
                    continue
                written += await notifications.add(
                    s,
                    hall_id=self.hall_id,
                    key=f'near:{ticket_id}',
                    kind='queue_near',
                    message=message(Template.QUEUE_NEAR, number=row.number, ahead=ahead),
                    now=now,
                    ticket_id=ticket_id,
                    citizen_id=row.citizen_id,
                )
        for ticket_id, _ in near:
            self._remember(ticket_id)
        if written:
            self.notifier.kick()

    def _remember(self, ticket_id: int) -> None:
        self._told[ticket_id] = None
        while len(self._told) > REMEMBERED:
            self._told.popitem(last=False)
