"""One live queue state per process: the queue service, alerts and the twin share it."""

from __future__ import annotations

import datetime as dt

from app.bus import InProcessBus
from app.events import Event, TicketIssued, TicketSnapshot
from app.models import ServiceItem, TicketCreate
from app.services.live_queue import LiveQueue, WindowSlot
from app.services.queue import QueueService
from tests.callers import DESK
from tests.factories import SmallHall
from twin import live

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def issued(ticket_id: int) -> TicketIssued:
    snapshot = TicketSnapshot(
        id=ticket_id,
        number=f'A{ticket_id:03d}',
        service_id=1,
        service_code='A',
        status='waiting',
        priority_class='normal',
        queued_at=NOW,
        taken_at=NOW,
    )
    return TicketIssued(hall_id=1, payload=snapshot)


def small_state() -> LiveQueue:
    service = ServiceItem(id=1, code='A', name='A', ticket_prefix='A', department_id=1, avg_handling_minutes=5)
    return LiveQueue({1: service}, {1: WindowSlot({1: 1}, 'open')}, clock=lambda: NOW)


def test_followers_hear_each_new_event_once_with_the_state_it_left() -> None:
    state = small_state()
    heard: list[tuple[str, int]] = []
    state.follow(lambda event: heard.append((event.id, state.waiting_count(1))))
    first, second = issued(1), issued(2)

    assert state.apply(first) and state.apply(second)
    assert not state.apply(first)  # a late copy (the bus delivering what the service already applied)
    assert heard == [(first.id, 1), (second.id, 2)]


def test_an_unfollowed_follower_hears_nothing_more() -> None:
    state = small_state()
    heard: list[Event] = []
    state.follow(heard.append)
    state.apply(issued(1))
    state.unfollow(heard.append)
    state.apply(issued(2))
    assert len(heard) == 1 and state.waiting_count(1) == 2


def test_a_failing_follower_neither_stops_the_others_nor_undoes_the_event() -> None:
    state = small_state()
    heard: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError('a page bug')

    state.follow(broken)
    state.follow(heard.append)
    assert state.apply(issued(1))
    assert len(heard) == 1 and state.waiting_count(1) == 1


async def test_attaching_twice_feeds_the_state_once(bus: InProcessBus) -> None:
    state = small_state()
    heard: list[Event] = []
    state.follow(heard.append)
    state.attach(bus)
    state.attach(bus)  # the twin asks too, after the queue service
    await bus.publish(issued(1))
    await bus.drain()
    assert len(heard) == 1 and state.waiting_count(1) == 1


async def test_the_twin_shares_the_queue_services_live_state(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    shared = await queue.start_live()
    twin = await live.build(queue)
    twin.attach(bus)
    assert twin.live is shared


async def test_a_written_event_reaches_the_twin_once_before_the_bus_delivers_it(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    await queue.start_live()
    twin = await live.build(queue)
    twin.attach(bus)
    changes: list[Event] = []
    twin.changed.subscribe(changes.append)
    a_id = next(q.service_id for q in twin.queues.values() if q.code == hall.service_a)

    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    assert twin.queues[a_id].waiting == 1  # no bus delivery yet: the service applied its own event
    await queue.call_next(hall.window_1, caller=DESK)
    assert twin.windows[hall.window_1].current_number == 'A001' and twin.queues[a_id].waiting == 0

    await bus.drain()  # the bus brings both events again: the shared state skips them
    assert [type(e).__name__ for e in changes] == ['TicketIssued', 'TicketCalled']
    twin.detach(bus)
