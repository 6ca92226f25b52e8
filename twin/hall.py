"""The live in-memory hall: windows and queues, built from the database, then kept current by events.

`HallTwin.apply` is the reducer: one bus event in, the affected objects updated. Window and queue
objects are bindable dataclasses, so a page that binds a label to `current_number` is pushed
exactly the fields that changed, with no polling.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field

from nicegui import Event as UiEvent
from nicegui import binding

from app.bus import Bus, Subscription
from app.events import (
    Event,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketNoShow,
    TicketParked,
    TicketResumed,
    TicketTransferred,
    WindowChanged,
)
from app.services.live_queue import LiveQueue
from app.services.queue import HallOverview


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
    """Bindable window and queue views over a LiveQueue; `changed` fires after each applied event."""

    def __init__(self, overview: HallOverview, live: LiveQueue) -> None:
        self.live = live
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
        if not self.live.apply(event):
            return
        if isinstance(event, TicketEventBase):
            self._apply_window_views(event)
        elif isinstance(event, WindowChanged) and event.payload.id in self.windows:
            window = self.windows[event.payload.id]
            window.state = event.payload.state
            window.services = dict(self.live.windows[event.payload.id].services)
        self._refresh_queues()
        self.changed.emit(event)

    def _apply_window_views(self, event: TicketEventBase) -> None:
        ticket = event.payload
        if isinstance(event, TicketTransferred):
            self._clear_window(event.from_window_id)
        if isinstance(event, TicketCalled | TicketResumed) and ticket.window_id in self.windows:
            window = self.windows[ticket.window_id]
            window.current_number = ticket.number
            window.current_since = ticket.called_at
        if isinstance(event, TicketCompleted | TicketNoShow | TicketParked):
            self._clear_window(ticket.window_id)

    def _clear_window(self, window_id: int | None) -> None:
        if window_id in self.windows:
            window = self.windows[window_id]
            window.current_number = ''
            window.current_since = None

    def _refresh_queues(self) -> None:
        for sid, queue in self.queues.items():
            waiting = self.live.waiting_count(sid)
            queue.waiting = waiting
            estimate = self.live.estimate(sid, waiting)
            queue.eta_minutes = round(estimate.minutes) if estimate else None
            queue.oldest_queued_at = self.live.oldest(sid)
