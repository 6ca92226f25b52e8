"""Followed tickets' shared texts: places from one sort per service agree with the queue's own count, a call
reaches the called ticket's pages at once, and a ticket nobody follows any more leaves the feed."""

from __future__ import annotations

import asyncio
import json

from app.bus import InProcessBus
from app.models import TicketCreate
from app.services.queue import QueueService
from app.services.tracking import Tracked
from tests.callers import DESK
from tests.factories import SmallHall
from tests.test_fanout import Reader
from twin.ticket_feed import TicketFeed


async def _take(queue: QueueService, hall: SmallHall) -> Tracked:
    view = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    ticket = view.ticket
    assert ticket.id is not None
    return Tracked(ticket.code, ticket.id, None, None, ticket.service_id, ticket.number)


async def _last(reader: Reader, done: object) -> dict[str, object]:
    """The newest text once one satisfies `done`."""
    async with asyncio.timeout(5):
        while not reader.texts or not done(json.loads(reader.texts[-1])):  # type: ignore[operator]
            reader.got.clear()
            await reader.got.wait()
    return dict(json.loads(reader.texts[-1]))


async def test_places_follow_the_queue_and_the_called_ticket_hears_its_window(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    live = await queue.start_live()
    feed = TicketFeed(queue, recount_interval=0.05)
    bus.subscribe(feed.on_ticket)
    tickets = [await _take(queue, hall) for _ in range(4)]
    await bus.drain()
    readers = [Reader() for _ in tickets]
    followed = [await feed.hold(tracked) for tracked in tickets]
    serving = [asyncio.create_task(f.channel.serve(r)) for f, r in zip(followed, readers, strict=True)]
    for place, reader in enumerate(readers):
        first = await _last(reader, lambda text: True)
        assert (first['status'], first['ahead'], first['window']) == ('waiting', place, None)
    await queue.call_next(hall.window_1, caller=DESK)
    await bus.drain()
    called = await _last(readers[0], lambda text: text['status'] == 'called')
    assert called['window'] is not None and called['ahead'] is None
    for place, reader in enumerate(readers[1:]):
        moved = await _last(reader, lambda text, place=place: text['ahead'] == place)
        ticket = tickets[place + 1]
        mine = live.waiting[ticket.service_id][ticket.ticket_id or 0]
        assert moved['ahead'] == live.ahead_of(mine, ticket.service_id, now=queue.clock(), cap=queue.fairness_cap)
    for task in serving:
        task.cancel()
    feed.stop()


async def test_a_ticket_whose_last_page_left_is_no_longer_followed(queue: QueueService, hall: SmallHall) -> None:
    await queue.start_live()
    feed = TicketFeed(queue)
    tracked = await _take(queue, hall)
    one, two = await feed.hold(tracked), await feed.hold(tracked)
    assert one is two and list(feed.tickets) == [tracked.ticket_id]  # one channel for the ticket's pages
    feed.release(one)
    assert tracked.ticket_id in feed.tickets
    feed.release(two)
    assert feed.tickets == {}
