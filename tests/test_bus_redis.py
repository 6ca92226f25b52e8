"""The Redis bus against the real redis-server: two processes share events once each, in order, across an outage;
entries not signed with the hall's bus key (written by hand into Redis) are dropped and counted."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from app import jobs
from app import runtime as runtime_module
from app.bus_redis import RedisBus, entry_signature
from app.db import Database
from app.events import DevicePayload, Event, HelpRequested
from app.models import TicketCreate
from app.runtime import build_runtime
from app.security.crypto import FieldCipher
from app.security.keys import Purpose, derive_key
from app.services.principal import Principal
from app.services.queue import QueueService
from app.settings import Settings, load_settings
from tests.apphost import TEST_SECRET, prepare_database_async, sqlite_url
from tests.callers import DESK, deps_for
from tests.factories import SmallHall

REDIS = 'redis://127.0.0.1:6379/0'
KEY = derive_key(b'bus-test-secret-0123456789abcdef0123', Purpose.BUS)
OTHER_KEY = derive_key(b'another-hall-secret-0123456789abcdef', Purpose.BUS)
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
    first, second = RedisBus(REDIS, key=KEY, stream=stream), RedisBus(REDIS, key=KEY, stream=stream)
    await first.start()
    await second.start()
    yield first, second
    await first.stop()
    await second.stop()


async def xadd(stream: str, fields: dict[str, str]) -> None:
    """Write an entry by hand, as anyone with access to Redis could."""
    redis = Redis.from_url(REDIS)
    try:
        await redis.xadd(stream, fields)  # type: ignore[arg-type]
    finally:
        await redis.aclose()


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
    unreachable = RedisBus('redis://127.0.0.1:1/0', key=KEY, stream=stream)
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


async def test_an_unreadable_entry_is_skipped_and_counted(pair: tuple[RedisBus, RedisBus], stream: str) -> None:
    first, second = pair
    there = notes(second)
    unknown = '{"type": "NoSuchEvent", "data": {}}'
    await xadd(stream, {'origin': 'someone', 'event': unknown, 'sig': entry_signature(KEY, stream, 'someone', unknown)})
    await xadd(stream, {'origin': 'someone'})
    await first.publish(help_at('after'))
    await eventually(lambda: there == ['after'])
    assert second.stats.snapshot() == {'delivered': 1, 'dropped': {'unreadable': 2}}


async def test_entries_written_into_redis_without_the_bus_key_are_dropped_and_counted(
    pair: tuple[RedisBus, RedisBus], stream: str
) -> None:
    """What anyone who can write to Redis could try: plain entries, another key, another stream, a swapped event."""
    first, second = pair
    there = notes(second)
    forged = help_at('forged').to_json()

    def entry(signature: str) -> dict[str, str]:
        return {'origin': 'intruder', 'event': forged, 'sig': signature}

    await xadd(stream, {'origin': 'intruder', 'event': forged})
    await xadd(stream, entry(entry_signature(OTHER_KEY, stream, 'intruder', forged)))  # another hall's key
    await xadd(stream, entry(entry_signature(KEY, 'elsewhere', 'intruder', forged)))  # signed for another stream
    await xadd(stream, entry(entry_signature(KEY, stream, 'intruder', help_at('harmless').to_json())))  # swapped
    await xadd(stream, entry('Ω' * 64))
    await first.publish(help_at('genuine'))
    await eventually(lambda: there == ['genuine'])
    assert second.stats.snapshot() == {'delivered': 1, 'dropped': {'unsigned': 1, 'bad_signature': 4}}


async def test_a_signed_entry_copied_back_into_the_stream_is_delivered_once(
    pair: tuple[RedisBus, RedisBus], stream: str
) -> None:
    first, second = pair
    there = notes(second)
    await first.publish(help_at('once'))
    await eventually(lambda: there == ['once'])
    redis = Redis.from_url(REDIS)
    try:
        (_, fields), *_ = await redis.xrevrange(stream, count=1)
        await redis.xadd(stream, fields)
    finally:
        await redis.aclose()
    await first.publish(help_at('next'))
    await eventually(lambda: there == ['once', 'next'])
    assert second.stats.snapshot() == {'delivered': 2, 'dropped': {'replayed': 1}}


async def test_a_flood_of_forged_entries_is_one_warning_and_a_count(
    stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    reader = RedisBus(REDIS, key=KEY, stream=stream)
    await reader.start()
    try:
        redis = Redis.from_url(REDIS)
        try:
            async with redis.pipeline(transaction=False) as pipe:
                for n in range(300):
                    pipe.xadd(stream, {'origin': 'intruder', 'event': help_at(f'flood-{n}').to_json()})
                await pipe.execute()
        finally:
            await redis.aclose()
        await eventually(lambda: reader.stats.dropped['unsigned'] == 300)
        assert reader.stats.delivered == 0
        assert sum('dropped an entry' in message for message in caplog.messages) == 1
    finally:
        await reader.stop()


def test_a_bus_without_a_real_key_cannot_be_built() -> None:
    with pytest.raises(ValueError, match='bus key'):
        RedisBus(REDIS, key=b'')


async def test_the_app_and_the_job_worker_sign_with_the_halls_bus_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: str
) -> None:
    """Both places that build a RedisBus (app/runtime.py, `python -m app.jobs`) hand it settings.key(Purpose.BUS):
    the worker's events reach the app, another hall's do not and show in the manager's ops counters."""
    test_stream = stream

    class OnTestStream(RedisBus):
        def __init__(self, url: str, *, key: bytes, stream: str = '') -> None:  # the hall's stream, made the test's
            super().__init__(url, key=key, stream=test_stream)

    url = sqlite_url(tmp_path / 'hall.db')
    await prepare_database_async(url)
    for name, value in (('DATABASE_URL', url), ('REDIS_URL', REDIS), ('SECRET_KEY', TEST_SECRET)):
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(runtime_module, 'RedisBus', OnTestStream)
    monkeypatch.setattr(jobs, 'RedisBus', OnTestStream)
    monkeypatch.setattr(jobs, 'get_settings', load_settings)
    rt = await build_runtime(load_settings())
    worker: dict[str, Any] = {}
    other_hall = RedisBus(REDIS, key=OTHER_KEY, stream=stream)
    try:
        await jobs.worker_startup(worker)
        await other_hall.start()
        in_app = notes(rt.bus)
        await worker['bus'].publish(help_at('from the worker'))
        await other_hall.publish(help_at('from another hall'))
        await worker['bus'].publish(help_at('again'))
        await eventually(lambda: in_app == ['from the worker', 'again'])
        counters = rt.ops.read(Principal.system('test'))
        assert counters['bus'] == {'delivered': 2, 'dropped': {'bad_signature': 1}}
    finally:
        await other_hall.stop()
        await jobs.worker_shutdown(worker)
        await rt.bus.stop()
        await rt.db.dispose()


async def test_a_second_process_keeps_its_live_queues_current_from_the_first_ones_events(
    pair: tuple[RedisBus, RedisBus], db: Database, settings: Settings, cipher: FieldCipher, hall: SmallHall
) -> None:
    """Scale-out: process B's in-memory queues (estimates, the twin) follow what process A does."""
    first, second = pair
    a = QueueService(deps_for(db, first, hall_id=hall.hall_id, settings=settings, cipher=cipher))
    b = QueueService(deps_for(db, second, hall_id=hall.hall_id, settings=settings, cipher=cipher))
    await a.start_live()
    await b.start_live()
    assert a.live is not None and b.live is not None
    service_id = next(sid for sid, s in b.live.services.items() if s.code == hall.service_a)
    for _ in range(3):
        await a.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await eventually(lambda: b.live is not None and b.live.waiting_count(service_id) == 3)
    await a.call_next(hall.window_1, caller=DESK)
    await eventually(lambda: b.live is not None and b.live.waiting_count(service_id) == 2)
