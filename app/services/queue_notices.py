"""Queue notices for waiting citizens: "前面还有3人" and "请到5号窗口", written to the outbox from bus events.

The queue engine knows nothing of notifications; this subscriber reads its events and the in-memory
queues (no query for positions) and writes a notice once per ticket and reason. Dedupe keys make a
replayed event harmless: "near" once per ticket, "called" once per call event (a recall is a new call).

Each outbox write is a durable commit (an fsync on SQLite), so notices are coalesced: the events that queued up
while a write was in flight are written together in the next single transaction, by the handler of the last of
them (the bus hands this subscriber one event at a time; `bus.drain()` still waits for every notice).
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import bindparam, select

from app.bus import Bus, Subscription
from app.events import Event, TicketCalled, TicketEventBase, TicketResumed, TicketTransferred
from app.models.ticket import Ticket
from app.services import notifications
from app.services.channels import PUSH
from app.services.deps import Deps
from app.services.live_queue import LiveQueue
from app.services.messages import Template, message
from app.services.uow import Service

NEAR_AHEAD = 3
REMEMBERED = 50_000
MAX_BATCH = 500  # a queue that never empties still writes at least this often
_TICKET = Ticket.__table__.c  # type: ignore[attr-defined]
# What a notice needs of its tickets, by Core (no ORM objects): built once, bound per batch.
NOTICE_TICKETS = select(_TICKET.id, _TICKET.number, _TICKET.citizen_id).where(
    _TICKET.id.in_(bindparam('ids', expanding=True))
)


@dataclass(frozen=True)
class Pending:
    """A notice decided on but not yet written: its dedupe key, and what its text needs."""

    key: str
    kind: str
    ticket_id: int
    number: str = ''  # called: the number and the window, as the call event gave them
    window: int | None = None
    ahead: int = 0  # queue_near: how many are before it


class QueueNotices(Service):
    bus: Bus

    def __init__(self, deps: Deps, live: LiveQueue, notifier: notifications.NotificationService) -> None:
        super().__init__(deps)
        self.live = live
        self.notifier = notifier
        self.writes = 0  # transactions that wrote notices (tests and benchmarks read it)
        self._told: OrderedDict[str, None] = OrderedDict()  # dedupe keys written lately
        self._pending: dict[str, Pending] = {}
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
        front = self.live.front(service_id, NEAR_AHEAD + 1, now=now, cap=cap)
        return [(ticket_id, ahead) for ahead, ticket_id in enumerate(front) if ahead >= 1]

    async def on_event(self, event: Event) -> None:
        if isinstance(event, TicketEventBase) and event.hall_id == self.hall_id:
            self.live.apply(event)  # idempotent: the live queue skips an event it has seen
            self._collect(event)
        if self._pending and (self._last_queued() or len(self._pending) >= MAX_BATCH):
            await self._write()

    def _collect(self, event: TicketEventBase) -> None:
        """Add the notices this event causes to the ones waiting to be written (once per dedupe key)."""
        ticket = event.payload
        if isinstance(event, TicketCalled | TicketResumed) and ticket.window_number is not None:
            key = f'called:{ticket.id}:{event.id}'
            if key not in self._told:
                self._pending.setdefault(
                    key, Pending(key, 'called', ticket.id, number=ticket.number, window=ticket.window_number)
                )
        services = {ticket.service_id}
        if isinstance(event, TicketTransferred):
            services.add(event.from_service_id)
        for service_id in services:
            for ticket_id, ahead in self.near(service_id):
                key = f'near:{ticket_id}'
                if key not in self._told and key not in self._pending:
                    self._pending[key] = Pending(key, 'queue_near', ticket_id, ahead=ahead)

    def _last_queued(self) -> bool:
        """No further event waits for this subscriber: the burst is over, write what it caused."""
        return self._subscription is None or self._subscription.queue.empty()

    async def _write(self) -> None:
        """Write every pending notice in one transaction; if it fails, they stay pending for the next event."""
        batch, self._pending = self._pending, {}
        try:
            queued = await self._insert(list(batch.values()))
        except BaseException:
            self._pending = batch | self._pending
            raise
        self.writes += 1
        for key in batch:
            self._remember(key)
        if queued:
            self.notifier.kick()

    async def _insert(self, batch: list[Pending]) -> bool:
        """Write the batch; whether it left rows for the delivery job (texts: the push copies went with the commit)."""
        now = self.clock()
        queued = False
        async with self._transaction() as uow:
            s = uow.session
            bound = {'ids': list({notice.ticket_id for notice in batch})}
            rows = {row.id: row for row in await s.execute(NOTICE_TICKETS, bound)}
            for notice in batch:
                row = rows.get(notice.ticket_id)
                if notice.kind == 'called':
                    text = message(Template.CALLED, number=notice.number, window=notice.window)
                elif row is None:
                    continue
                else:
                    text = message(Template.QUEUE_NEAR, number=row.number, ahead=notice.ahead)
                citizen_id = row.citizen_id if row else None
                channels = await notifications.channels_for(s, citizen_id)
                written = await notifications.add(
                    s,
                    hall_id=self.hall_id,
                    key=notice.key,
                    kind=notice.kind,
                    message=text,
                    now=now,
                    ticket_id=notice.ticket_id,
                    citizen_id=citizen_id,
                    channels=channels,
                    emit=uow.emit,
                )
                queued |= bool(written) and any(channel != PUSH for channel in channels)
        return queued

    def _remember(self, key: str) -> None:
        self._told[key] = None
        while len(self._told) > REMEMBERED:
            self._told.popitem(last=False)
