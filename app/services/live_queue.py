"""The queues as they stand now, in memory: waiting tickets, window loads, recent handling times.

Built once from the database, then kept current by applying the queue's own events (a reducer),
so a wait estimate costs no query. The API's ticket views and the twin both use it; a fresh
build from the database and a state fed by events give the same answers (tested).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field

from app.events import (
    Event,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketResumed,
    TicketTransferred,
    WindowChanged,
)
from app.models.hall import ServiceItem, WindowState
from app.models.ticket import PriorityClass
from app.services import eta
from app.services.priority import Candidate, order_key

RECENT_HANDLING_SAMPLES = 30
SEEN_EVENTS = 4096


@dataclass
class WindowSlot:
    services: dict[int, int]
    state: str
    current_ticket_id: int | None = None


@dataclass
class LiveQueue:
    services: dict[int, ServiceItem]
    windows: dict[int, WindowSlot]
    waiting: dict[int, dict[int, Candidate]] = field(default_factory=dict)
    recent: dict[int, deque[float]] = field(default_factory=dict)
    _seen: deque[str] = field(default_factory=lambda: deque(maxlen=SEEN_EVENTS))
    _seen_ids: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> bool:
        """Reduce one event; True when something changed. An event already applied is skipped."""
        if event.id in self._seen_ids:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seen_ids.discard(self._seen[0])
        self._seen.append(event.id)
        self._seen_ids.add(event.id)
        if isinstance(event, WindowChanged):
            slot = self.windows.get(event.payload.id)
            if slot is None:
                return False
            slot.state = event.payload.state
            slot.services = {sid: slot.services.get(sid, 1) for sid in event.payload.service_ids}
            return True
        if isinstance(event, TicketEventBase):
            self._apply_ticket(event)
            return True
        return False

    def _apply_ticket(self, event: TicketEventBase) -> None:
        ticket = event.payload
        if isinstance(event, TicketIssued | TicketTransferred):
            self._unqueue(ticket.id)
            self.waiting.setdefault(ticket.service_id, {})[ticket.id] = Candidate(
                ticket.id, PriorityClass(ticket.priority_class), ticket.queued_at, 1
            )
        if isinstance(event, TicketTransferred):
            self._free(event.from_window_id)
        if isinstance(event, TicketCalled | TicketResumed):
            self._unqueue(ticket.id)
            if ticket.window_id in self.windows:
                self.windows[ticket.window_id].current_ticket_id = ticket.id
        if isinstance(event, TicketCompleted | TicketNoShow | TicketParked):
            self._free(ticket.window_id)
        if isinstance(event, TicketCompleted) and ticket.handling_seconds is not None:
            samples = self.recent.setdefault(ticket.service_id, deque(maxlen=RECENT_HANDLING_SAMPLES))
            samples.appendleft(ticket.handling_seconds / 60)

    def _unqueue(self, ticket_id: int) -> None:
        for waiting in self.waiting.values():
            waiting.pop(ticket_id, None)

    def _free(self, window_id: int | None) -> None:
        if window_id in self.windows:
            self.windows[window_id].current_ticket_id = None

    def waiting_count(self, service_id: int) -> int:
        return len(self.waiting.get(service_id, {}))

    def oldest(self, service_id: int) -> dt.datetime | None:
        return min((c.queued_at for c in self.waiting.get(service_id, {}).values()), default=None)

    def ahead_of(self, candidate: Candidate, service_id: int, *, now: dt.datetime, cap: dt.timedelta) -> int:
        """How many waiting tickets of the service would be called before this one."""
        mine = order_key(candidate, now=now, cap=cap)
        return sum(
            1
            for other in self.waiting.get(service_id, {}).values()
            if other.ticket_id != candidate.ticket_id and order_key(other, now=now, cap=cap) < mine
        )

    def estimate(self, service_id: int, ahead: int) -> eta.Estimate | None:
        service = self.services.get(service_id)
        if service is None:
            return None
        stats = eta.handling_stats(list(self.recent.get(service_id, ())), prior_mean=service.avg_handling_minutes)
        open_slots = [w for w in self.windows.values() if w.state == WindowState.OPEN]
        loads = [eta.WindowLoad(w.services, w.current_ticket_id is not None) for w in open_slots]
        counts = {sid: len(items) for sid, items in self.waiting.items()}
        capacity = eta.service_capacity(service_id, loads, counts)
        idle = sum(1 for w in open_slots if service_id in w.services and w.current_ticket_id is None)
        return eta.estimate_wait(ahead=ahead, capacity=capacity, idle_windows=idle, stats=stats)
