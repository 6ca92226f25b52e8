"""Staff account changes relayed to open /admin pages: one bus subscription per process, however many are open.

`changed` re-emits `StaffChanged` (from this process, another one, or the CLI over Redis); the staff tab
subscribes inside its page, so the subscription dies with the page.
"""

from __future__ import annotations

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import StaffChanged


class StaffFeed:
    def __init__(self) -> None:
        self.changed: UiEvent[StaffChanged] = UiEvent()
        self._subscription: Subscription | None = None

    def attach(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(self.relay, StaffChanged, name='staff-feed')

    def detach(self, bus: Bus) -> None:
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    def relay(self, event: StaffChanged) -> None:
        self.changed.emit(event)
