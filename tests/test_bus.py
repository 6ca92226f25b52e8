"""The in-process bus: fan-out, type filters, isolation from slow or failing subscribers, JSON round trip."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from app.bus import InProcessBus
from app.events import Event, TicketCalled, TicketIssued, TicketSnapshot, WindowChanged, WindowPayload


def issued(n: int = 1) -> TicketIssued:
    now = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)
    snapshot = TicketSnapshot(
        id=n,
        number=f'A{n:03d}',
        service_id=1,
        service_code='SVC-A',
        status='waiting',
        priority_class='normal',
        queued_at=now,
        taken_at=now,
    )
    return TicketIssued(hall_id=1, payload=snapshot)


async def test_every_subscriber_gets_every_event_in_order(bus: InProcessBus) -> None:
    first: list[Event] = []
    second: list[Event] = []
    bus.subscribe(first.append)
    bus.subscribe(second.append)
    events = [issued(n) for n in range(1, 6)]
    for event in events:
        await bus.publish(event)
    await bus.drain()
    assert first == events and second == events


async def test_type_filter(bus: InProcessBus) -> None:
    windows: list[Event] = []
    bus.subscribe(windows.append, WindowChanged)
    await bus.publish(issued())
    change = WindowChanged(hall_id=1, payload=WindowPayload(id=1, number=1, state='open', service_ids=[1]))
    await bus.publish(change)
    await bus.drain()
    assert windows == [change]


async def test_a_slow_subscriber_does_not_block_the_others(bus: InProcessBus) -> None:
    release = asyncio.Event()
    fast: list[Event] = []

    async def slow(_: Event) -> None:
        await release.wait()

    bus.subscribe(slow)
    bus.subscribe(fast.append)
    for n in range(1, 4):
        await bus.publish(issued(n))
    await asyncio.wait_for(_until(lambda: len(fast) == 3), timeout=2)
    release.set()
    await bus.drain()


async def test_a_failing_subscriber_is_logged_and_keeps_receiving(
    bus: InProcessBus, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    def flaky(event: Event) -> None:
        assert isinstance(event, TicketIssued)
        if event.payload.id == 1:
            raise ValueError('boom')
        seen.append(event.payload.id)

    bus.subscribe(flaky, name='flaky')
    await bus.publish(issued(1))
    await bus.publish(issued(2))
    await bus.drain()
    assert seen == [2]
    assert 'subscriber flaky failed' in caplog.text
    caplog.clear()


async def test_unsubscribe_stops_delivery(bus: InProcessBus) -> None:
    seen: list[Event] = []
    subscription = bus.subscribe(seen.append)
    bus.unsubscribe(subscription)
    await bus.publish(issued())
    await bus.drain()
    assert seen == []


def test_events_round_trip_through_json() -> None:
    event = TicketCalled(hall_id=1, payload=issued().payload, recall=True, actor='w01')
    again = Event.from_json(event.to_json())
    assert again == event and isinstance(again, TicketCalled)


async def _until(condition: object) -> None:
    assert callable(condition)
    while not condition():
        await asyncio.sleep(0.01)
