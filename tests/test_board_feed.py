"""The boards' shared texts follow the twin: counts coalesced, and a changed hall configuration re-scopes each board."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from app.bus import InProcessBus
from app.events import Event
from app.fanout import TOO_SLOW
from app.models import TicketCreate
from app.services.call_board import BoardScope
from app.services.errors import NotFound
from app.services.queue import QueueService
from tests.callers import DESK
from tests.factories import SmallHall
from tests.test_fanout import Reader
from twin import live
from twin.board_feed import BoardFeed


async def test_a_burst_of_tickets_sends_few_count_texts_and_the_last_one_is_right(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    twin = await live.build(queue)
    twin.attach(bus)
    feed = BoardFeed(twin, lambda zone: _scope(BoardScope('')), waiting_interval=0.5)
    twin.updated.subscribe(feed.on_update, unsubscribe_on_delete=False)
    reader = Reader()
    serving = asyncio.create_task((await feed.board(None)).channel.serve(reader))
    await reader.count(1)
    started = time.monotonic()
    for _ in range(10):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await bus.drain()
    took = time.monotonic() - started
    await asyncio.sleep(1.2)
    counts = [json.loads(text)['waiting'] for text in reader.texts[1:]]
    assert counts[-1][hall.service_a] == 10
    assert len(counts) <= min(9, took / 0.5 + 2)  # one text per half second at most, not one per ticket
    serving.cancel()
    feed.stop()
    twin.detach(bus)


async def test_a_zone_that_is_gone_drops_its_boards_and_a_changed_zone_gets_a_full_text(
    queue: QueueService, hall: SmallHall, bus: InProcessBus
) -> None:
    twin = await live.build(queue)
    scopes = {'one': BoardScope('一区', 'one', frozenset({hall.window_1})), 'two': BoardScope('二区', 'two')}

    async def read(zone: str | None) -> BoardScope:
        if zone not in scopes:
            raise NotFound('unknown_zone', zone_code=zone)
        return scopes[zone]

    feed = BoardFeed(twin, read)
    one, two = Reader(), Reader()
    serving = [asyncio.create_task((await feed.board(z)).channel.serve(r)) for z, r in (('one', one), ('two', two))]
    await one.count(1)
    await two.count(1)
    del scopes['one']
    scopes['two'] = BoardScope('二区', 'two', frozenset({hall.window_2}), frozenset())
    await feed.reconfigure(Event(hall_id=hall.hall_id))
    async with asyncio.timeout(5):
        await serving[0]
    assert one.closed == TOO_SLOW and 'one' not in feed.boards  # its page reconnects and is told the zone is gone
    await two.count(2)
    assert json.loads(two.texts[1]) == {'seq': 1, 'calls': [], 'waiting': {}}  # the new scope serves no service
    with pytest.raises(NotFound):
        await feed.board('one')
    serving[1].cancel()


async def _scope(scope: BoardScope) -> BoardScope:
    return scope
