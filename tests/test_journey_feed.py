"""The journey feed: one bus subscription per process relays ticket and journey events to the pages' Events."""

from __future__ import annotations

import asyncio

from app.bus import InProcessBus
from app.events import Event, NotificationSent, SlaAtRisk, TicketEventBase, WindowChanged, WindowPayload
from tests.test_bus import issued
from twin.journey_feed import JourneyFeed


def notice(n: int) -> NotificationSent:
    return NotificationSent(hall_id=1, notification_id=n, channel='push', kind='called', ticket_id=n, text=f'#{n}')


async def test_ticket_events_and_journey_events_go_to_their_own_event(bus: InProcessBus) -> None:
    feed = JourneyFeed()
    feed.attach(bus)
    tickets: list[TicketEventBase] = []
    journey: list[Event] = []
    feed.tickets.subscribe(tickets.append)
    feed.journey.subscribe(journey.append)
    window = WindowChanged(hall_id=1, payload=WindowPayload(id=1, number=1, state='open', service_ids=[1]))
    for event in (issued(1), notice(1), window, issued(2)):
        await bus.publish(event)
    await bus.drain()
    assert [t.payload.id for t in tickets] == [1, 2]
    assert [type(e) for e in journey] == [NotificationSent]  # a window change is not the journey's


async def test_drain_waits_for_every_page_and_each_page_sees_events_in_order(bus: InProcessBus) -> None:
    feed = JourneyFeed()
    feed.attach(bus)
    seen: list[int] = []

    async def slow_page(event: Event) -> None:
        assert isinstance(event, NotificationSent)
        await asyncio.sleep(0.01 if event.notification_id == 1 else 0)
        seen.append(event.notification_id)

    feed.journey.subscribe(slow_page)
    for n in (1, 2, 3):
        await bus.publish(notice(n))
    await bus.drain()
    assert seen == [1, 2, 3]


async def test_a_detached_feed_relays_nothing(bus: InProcessBus) -> None:
    feed = JourneyFeed()
    feed.attach(bus)
    journey: list[Event] = []
    feed.journey.subscribe(journey.append)
    feed.detach(bus)
    await bus.publish(SlaAtRisk(hall_id=1, case_id=1, node='审核', due_at=issued().time))
    await bus.drain()
    assert journey == []
