"""The live in-memory hall: windows and queues, built from the database, then kept current by events.

`HallTwin.apply` is the reducer: one bus event in, the affected objects updated. Window and queue
objects are bindable dataclasses, so a page that binds a label to `current_number` is pushed
exactly the fields that changed, with no polling.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import field

from nicegui import Event as UiEvent
from nicegui import binding

from app.bus import Bus, Subscription
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
from app.models.hall import WindowState
from app.models.ticket import PriorityClass
from app.services import eta
from app.services.priority import Candidate
from app.services.queue import RECENT_HANDLING_SAMPLES, HallOverview, QueueState


@binding.bindable_dataclass
class WindowTwin:
    id: int
    number: int
    name: str
    zone_id: int
    state: str
    services: dict[int, int] = field(default_factory=dict)
    current_number: str = ''
    current_since: dt.datetime | None = None


@binding.bindable_dataclass
class QueueTwin:
    service_id: int
    code: str
    name: str
    prefix: str
    waiting: int = 0
    eta_minutes: int | None = None
    oldest_queued_at: dt.datetime | None = None


class HallTwin:
    def __init__(self, overview: HallOverview, state: QueueState) -> None:
        self.windows: dict[int, WindowTwin] = {
            w.window.id or 0: WindowTwin(
                id=w.window.id or 0,
                number=w.window.number,
                name=w.window.name,
                zone_id=w.window.zone_id,
                state=w.window.state,
                services=dict(w.service_ids),
                current_number=w.current.number if w.current else '',
                current_since=w.current.called_at if w.current else None,
            )
            for w in overview.windows
        }
        self.queues: dict[int, QueueTwin] = {
            q.service.id or 0: QueueTwin(
                service_id=q.service.id or 0, code=q.service.code, name=q.service.name, prefix=q.service.ticket_prefix
            )
            for q in overview.queues
        }
        self._services = state.services
        self._waiting: dict[int, dict[int, Candidate]] = {
            sid: {c.ticket_id: c for c in state.waiting.get(sid, [])} for sid in self.queues
        }
        self._recent: dict[int, deque[float]] = {
            sid: deque(state.recent.get(sid, []), maxlen=RECENT_HANDLING_SAMPLES) for sid in self.queues
        }
        self.changed: UiEvent[Event] = UiEvent()
        self._subscription: Subscription | None = None
        self._refresh_queues()

    def attach(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(self.apply, name='twin')

    def detach(self, bus: Bus) -> None:
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def apply(self, event: Event) -> None:
        """Reduce one event into the twin; `changed` fires only when something was updated."""
        if isinstance(event, TicketEventBase):
            self._apply_ticket(event)
        elif isinstance(event, WindowChanged):
            window = self.windows.get(event.payload.id)
            if window is None:
                return
            window.state = event.payload.state
            window.services = self._tiers(event.payload.service_ids, window.services)
        else:
            return
        self._refresh_queues()
        self.changed.emit(event)

    def _apply_ticket(self, event: TicketEventBase) -> None:
        ticket = event.payload
        if isinstance(event, TicketIssued | TicketTransferred):
            for waiting in self._waiting.values():
                waiting.pop(ticket.id, None)
            self._waiting.setdefault(ticket.service_id, {})[ticket.id] = Candidate(
                ticket.id, PriorityClass(ticket.priority_class), ticket.queued_at, 1
            )
        if isinstance(event, TicketTransferred) and event.from_window_id in self.windows:
            self._clear_window(event.from_window_id)
        if isinstance(event, TicketCalled | TicketResumed) and ticket.window_id in self.windows:
            self._waiting.get(ticket.service_id, {}).pop(ticket.id, None)
            window = self.windows[ticket.window_id]
            window.current_number = ticket.number
            window.current_since = ticket.called_at
        if isinstance(event, TicketCompleted | TicketNoShow | TicketParked) and ticket.window_id in self.windows:
            self._clear_window(ticket.window_id)
        if isinstance(event, TicketCompleted) and ticket.handling_seconds is not None:
            self._recent.setdefault(ticket.service_id, deque(maxlen=RECENT_HANDLING_SAMPLES)).appendleft(
                ticket.handling_seconds / 60
            )

    def _clear_window(self, window_id: int | None) -> None:
        window = self.windows[window_id or 0]
        window.current_number = ''
        window.current_since = None

    @staticmethod
    def _tiers(service_ids: list[int], previous: dict[int, int]) -> dict[int, int]:
        return {sid: previous.get(sid, 1) for sid in service_ids}

    def state(self) -> QueueState:
        """The estimator's inputs as the twin knows them (the same function the API uses)."""
        loads = [
            eta.WindowLoad(w.services, bool(w.current_number))
            for w in self.windows.values()
            if w.state == WindowState.OPEN
        ]
        return QueueState(
            self._services,
            loads,
            {sid: list(c.values()) for sid, c in self._waiting.items()},
            {sid: list(r) for sid, r in self._recent.items()},
        )

    def _refresh_queues(self) -> None:
        state = self.state()
        for sid, queue in self.queues.items():
            waiting = self._waiting.get(sid, {})
            queue.waiting = len(waiting)
            estimate = state.estimate(sid, len(waiting))
            queue.eta_minutes = round(estimate.minutes) if estimate else None
            queue.oldest_queued_at = min((c.queued_at for c in waiting.values()), default=None)
