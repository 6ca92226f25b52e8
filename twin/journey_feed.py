"""Events for the citizen and reviewer pages (/track, /proxy, /review), relayed from the bus once per process.

`tickets` re-emits every ticket transition (a ticket's status, or the queue ahead of it, moved); `journey`
re-emits what follows a ticket: case steps, SLA warnings, notices sent, ratings, rectifications, proxy
grants, the long-wait comfort prompt and a ticket's new number in another hall (跨区通办). Both are NiceGUI
Events: a page subscribes inside itself and the subscription dies with its client, so no page holds a bus
subscription of its own. The relay awaits every page's handler (`Event.call`): each page sees the events one at
a time and in bus order, and `bus.drain()` still means every open page caught up.
"""

from __future__ import annotations

from nicegui import Event as UiEvent

from app.bus import Bus, Subscription
from app.events import (
    CaseStepChanged,
    EvaluationSubmitted,
    Event,
    HandoffApplied,
    NotificationSent,
    ProxyChanged,
    RectificationChanged,
    RectificationOpened,
    SlaAtRisk,
    TicketEventBase,
    WaitComfort,
)

JOURNEY_EVENTS: tuple[type[Event], ...] = (
    CaseStepChanged,
    SlaAtRisk,
    NotificationSent,
    EvaluationSubmitted,
    RectificationOpened,
    RectificationChanged,
    ProxyChanged,
    WaitComfort,
    HandoffApplied,
)


class JourneyFeed:
    def __init__(self) -> None:
        self.tickets: UiEvent[TicketEventBase] = UiEvent()
        self.journey: UiEvent[Event] = UiEvent()
        self._subscription: Subscription | None = None

    def attach(self, bus: Bus) -> None:
        self._subscription = bus.subscribe(self.relay, TicketEventBase, *JOURNEY_EVENTS, name='journey-feed')

    def detach(self, bus: Bus) -> None:
        if self._subscription:
            bus.unsubscribe(self._subscription)
            self._subscription = None

    async def relay(self, event: Event) -> None:
        if isinstance(event, TicketEventBase):
            await self.tickets.call(event)
        else:
            await self.journey.call(event)
