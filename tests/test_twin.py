"""The twin's reducer: built from the database, kept current by events, agreeing with the API."""

from __future__ import annotations

from app.bus import InProcessBus
from app.events import Event
from app.models import TicketCreate, WindowState
from app.services.queue import QueueService
from tests.callers import DESK
from tests.factories import SmallHall
from twin import live


async def test_twin_follows_the_queue(queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    twin = await live.build(queue)
    twin.attach(bus)
    changes: list[Event] = []
    twin.changed.subscribe(changes.append)
    a_id = next(q.service_id for q in twin.queues.values() if q.code == hall.service_a)
    assert twin.queues[a_id].waiting == 1

    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await bus.drain()
    assert twin.queues[a_id].waiting == 1
    assert twin.windows[hall.window_1].current_number == 'A001'

    await queue.park(hall.window_1, caller=DESK)
    await bus.drain()
    assert twin.windows[hall.window_1].current_number == ''
    await queue.resume(hall.window_1, 'A001', caller=DESK)
    await queue.transfer(hall.window_1, to_service_code=hall.service_b, caller=DESK)
    await bus.drain()
    b_id = next(q.service_id for q in twin.queues.values() if q.code == hall.service_b)
    assert twin.queues[b_id].waiting == 1 and twin.windows[hall.window_1].current_number == ''

    await queue.call_next(hall.window_2, caller=DESK)
    await queue.complete(hall.window_2, caller=DESK)
    await queue.set_window_state(hall.window_2, WindowState.PAUSED, caller=DESK)
    await bus.drain()
    assert twin.windows[hall.window_2].state == WindowState.PAUSED
    assert twin.queues[b_id].waiting == 0
    assert len(changes) == 8
    twin.detach(bus)


async def test_twin_estimates_match_the_api(queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    twin = await live.build(queue)
    twin.attach(bus)
    for service in (hall.service_a, hall.service_a, hall.service_b, hall.service_a):
        await queue.take_ticket(TicketCreate(service_code=service), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await queue.complete(hall.window_1, caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await bus.drain()
    overview = await queue.overview()
    for q in overview.queues:
        expected = round(q.estimate.minutes) if q.estimate else None
        assert twin.queues[q.service.id].waiting == q.waiting
        assert twin.queues[q.service.id].eta_minutes == expected
    twin.detach(bus)


async def test_rebuilding_gives_the_same_state(queue: QueueService, hall: SmallHall, bus: InProcessBus) -> None:
    twin = await live.build(queue)
    twin.attach(bus)
    for _ in range(3):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await bus.drain()
    fresh = await live.build(queue)
    assert {k: (w.current_number, w.state) for k, w in twin.windows.items()} == {
        k: (w.current_number, w.state) for k, w in fresh.windows.items()
    }
    assert {k: (q.waiting, q.eta_minutes) for k, q in twin.queues.items()} == {
        k: (q.waiting, q.eta_minutes) for k, q in fresh.queues.items()
    }
    twin.detach(bus)
