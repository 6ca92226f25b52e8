"""The Redis bus against the real redis-server: two processes share events once each, in order, across an outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis

from app.bus_redis import RedisBus
from app.db import Database
from app.events import DevicePayload, Event, HelpRequested
from app.models import TicketCreate
from app.security.crypto import FieldCipher
from app.services.queue import QueueService
from app.settings import Settings
from tests.callers import DESK, limits_for
from tests.factories import SmallHall

REDIS = 'redis://127.0.0.1:6379/0'
KIOSK = DevicePayload(device_id=1, code='K01', kind='kiosk')


def help_at(note: str) -> HelpRequested:
    return HelpRequested(hall_id=1, device=KIOSK, note=note)


@pytest.fixture
async def stream() -> AsyncIterator[str]:
    name = f'halltwin:test:events:{uuid.uuid4().hex[:8]}'
    yield name
    redis = Redis.from_url(REDIS)
    await redis.delete(name)
    await redis.aclose()


@pytest.fixture
async def pair(stream: str) -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    """Two processes' buses on one stream."""
    first, second = RedisBus(REDIS, stream=stream), RedisBus(REDIS, stream=stream)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


def notes(bus: RedisBus) -> list[str]:
    received: list[str] = []

    def keep(event: Event) -> None:
        assert isinstance(event, HelpRequested)
        received.append(event.note)

    bus.subscribe(keep, HelpRequested)
    return received


async def eventually(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, 'not delivered in time'
        await asyncio.sleep(0.02)


async def test_each_process_gets_every_event_once(pair: tuple[RedisBus, RedisBus]) -> None:
    first, second = pair
    here, there = notes(first), notes(second)
    for note in ('a', 'b', 'c'):
        await first.publish(help_at(note))
    await eventually(lambda: there == ['a', 'b', 'c'])  # in order; a process sees its own events at once,
    await second.publish(help_at('d'))  # so across processes the order is the order things reached each one
    await eventually(lambda: len(here) == 4 and len(there) == 4)
    await asyncio.sleep(0.3)  # and nothing more arrives: a process skips its own entries in the stream
    assert here == ['a', 'b', 'c', 'd'] and there == ['a', 'b', 'c', 'd']


async def test_events_published_during_an_outage_arrive_in_order_after_it(
    pair: tuple[RedisBus, RedisBus], caplog: pytest.LogCaptureFixture
) -> None:
    first, second = pair
    there = notes(second)
    await first.publish(help_at('before'))
    await eventually(lambda: there == ['before'])
    admin = Redis.from_url(REDIS)
    try:
        for client in await admin.client_list():
            if client.get('cmd') in ('xread', 'xadd', 'xrevrange'):
                await admin.client_kill_filter(_id=client['id'])
    finally:
        await admin.aclose()
    for note in ('during-1', 'during-2', 'during-3'):
        await first.publish(help_at(note))
    await eventually(lambda: len(there) == 4)
    assert there == ['before', 'during-1', 'during-2', 'during-3']
    assert any('Redis unreachable' in message for message in caplog.messages)  # the outage was real
    await eventually(lambda: first.available and second.available)


async def test_a_process_that_cannot_reach_redis_still_delivers_locally_and_keeps_the_events(
    stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = RedisBus('redis://127.0.0.1:1/0', stream=stream)
    await unreachable.start()
    try:
        here = notes(unreachable)
        for note in ('x', 'y'):
            await unreachable.publish(help_at(note))
        await eventually(lambda: here == ['x', 'y'])
        assert not unreachable.available and len(unreachable._backlog) == 2
        assert sum('Redis unreachable' in message for message in caplog.messages) == 1  # logged once
    finally:
        unreachable._backlog.clear()
        await unreachable.stop()


async def test_an_unreadable_entry_is_skipped(pair: tuple[RedisBus, RedisBus], stream: str) -> None:
    first, second = pair
    there = notes(second)
    redis = Redis.from_url(REDIS)
    try:
        await redis.xadd(stream, {'origin': 'someone', 'event': '{"type": "NoSuchEvent", "data": {}}'})
        await redis.xadd(stream, {'origin': 'someone'})
    finally:
        await redis.aclose()
    await first.publish(help_at('after'))
    await eventually(lambda: there == ['after'])


async def test_a_second_process_keeps_its_live_queues_current_from_the_first_ones_events(
    pair: tuple[RedisBus, RedisBus], db: Database, settings: Settings, cipher: FieldCipher, hall: SmallHall
) -> None:
    """Scale-out: process B's in-memory queues (estimates, the twin) follow what process A does."""
    first, second = pair
    a = QueueService(db, first, settings, cipher, limits_for(db), hall_id=hall.hall_id)
    b = QueueService(db, second, settings, cipher, limits_for(db), hall_id=hall.hall_id)
    await a.start_live()
    await b.start_live()
    assert a.live is not None and b.live is not None
    service_id = next(sid for sid, s in b.live.services.items() if s.code == hall.service_a)
    for _ in range(3):
        await a.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await eventually(lambda: b.live is not None and b.live.waiting_count(service_id) == 3)
    await a.call_next(hall.window_1, caller=DESK)
    await eventually(lambda: b.live is not None and b.live.waiting_count(service_id) == 2)
