"""Redis stopped and started again under real redis-servers of our own (tests/redisserver.py): events published
on both sides of the outage arrive once each, periodic jobs pause and then resume once a round (not a burst of
missed ones), and a live queue view resyncs from the database when the bus comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.bus import InProcessBus
from app.bus_redis import RedisBus
from app.db import Database
from app.events import DevicePayload, Event, HelpRequested
from app.jobs import ArqJobs, Periodic
from app.models import TicketCreate
from app.security.crypto import FieldCipher
from app.security.keys import Purpose, derive_key
from app.services.queue import QueueService
from app.settings import Settings
from tests.apphost import AppProcess, prepare_database, sqlite_url, start_app
from tests.callers import DESK, deps_for
from tests.conftest import AUDIT_KEY
from tests.dbs import SqliteTemplate
from tests.factories import SmallHall, build_small_hall
from tests.redisserver import RedisServer
from tests.security.routes import bearer, token

KEY = derive_key(b'outage-test-secret-0123456789abcdef01', Purpose.BUS)
KIOSK = DevicePayload(device_id=1, code='K01', kind='kiosk')
BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.stop()


async def eventually(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, 'not in time'
        await asyncio.sleep(0.05)


def notes(bus: RedisBus) -> list[str]:
    received: list[str] = []

    def keep(event: Event) -> None:
        assert isinstance(event, HelpRequested)
        received.append(event.note)

    bus.subscribe(keep, HelpRequested)
    return received


async def test_events_of_both_processes_during_a_stopped_redis_arrive_once_each_when_it_is_back(
    redis_server: RedisServer,
) -> None:
    first, second = RedisBus(redis_server.url, key=KEY), RedisBus(redis_server.url, key=KEY)
    back: list[str] = []
    first.when_back(lambda: back.append('first'))
    await first.start()
    await second.start()
    try:
        here, there = notes(first), notes(second)
        await first.publish(HelpRequested(hall_id=1, device=KIOSK, note='before'))
        await eventually(lambda: there == ['before'])
        redis_server.stop()
        for note in ('a1', 'a2', 'a3'):
            await first.publish(HelpRequested(hall_id=1, device=KIOSK, note=note))  # never waits on the outage
        # each process sees its own events straight away, Redis or not
        await second.publish(HelpRequested(hall_id=1, device=KIOSK, note='b1'))
        await eventually(lambda: here == ['before', 'a1', 'a2', 'a3'] and there == ['before', 'b1'], timeout=3)
        await eventually(lambda: not first.available and not second.available)
        await asyncio.sleep(2)  # down for a while
        redis_server.start()  # an empty Redis (no persistence): the stream is gone too
        await eventually(lambda: len(here) == 5 and len(there) == 5)
        await asyncio.sleep(1.5)  # and nothing arrives twice
        assert here == ['before', 'a1', 'a2', 'a3', 'b1']
        assert there == ['before', 'b1', 'a1', 'a2', 'a3']
        assert back == ['first']
    finally:
        await first.stop()
        await second.stop()


async def test_periodic_jobs_wait_for_redis_and_resume_once_a_round(redis_server: RedisServer) -> None:
    runs: list[float] = []

    async def tick(_: dict[str, Any]) -> int:
        runs.append(asyncio.get_running_loop().time())
        return 1

    runner = ArqJobs(
        {}, redis_server.url, hall_code='main', queue_name='halltwin:test:jobs', periodic=(Periodic(tick, 1),)
    )
    await runner.start()
    try:
        await eventually(lambda: len(runs) >= 2)
        redis_server.stop()
        await eventually(lambda: not runner.available, timeout=10)
        stopped = len(runs)
        await asyncio.sleep(4)
        assert len(runs) <= stopped + 1  # at most a round that had already started
        redis_server.start()
        back = asyncio.get_running_loop().time()
        await eventually(lambda: any(t > back for t in runs), timeout=20)
        first = min(t for t in runs if t > back)
        await eventually(lambda: len([t for t in runs if t > first]) >= 2, timeout=20)  # one a second again
        burst = [t for t in runs if first <= t < first + 1.0]
        # the catch-up round and the regular rounds that start in that second (two, when a loaded machine
        # starts one late and the next on time): never the 4+ rounds missed while Redis was down
        assert len(burst) <= 3, burst
        assert runner.available
    finally:
        await runner.stop()


@pytest.fixture
async def two_writers(
    tmp_path: Path, sqlite_template: SqliteTemplate, settings: Settings, redis_server: RedisServer
) -> AsyncIterator[tuple[QueueService, QueueService, SmallHall, RedisBus]]:
    db = Database(sqlite_template.copy_to(tmp_path / 'hall.db'), audit_key=AUDIT_KEY)
    hall = await build_small_hall(db)
    cipher = FieldCipher({'k1': settings.secret}, 'k1')
    bus = RedisBus(redis_server.url, key=KEY)
    await bus.start()
    watched = QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, cipher=cipher))
    await watched.start_live()
    bus.when_back(lambda: asyncio.get_running_loop().create_task(watched.resync_live()))
    lost = InProcessBus()  # a process whose events never reach the stream (it died holding its backlog)
    other = QueueService(deps_for(db, lost, hall_id=hall.hall_id, settings=settings, cipher=cipher))
    yield watched, other, hall, bus
    await bus.stop()
    await lost.stop()
    await db.dispose()


async def test_a_live_queue_view_resyncs_from_the_database_when_the_bus_is_back(
    two_writers: tuple[QueueService, QueueService, SmallHall, RedisBus], redis_server: RedisServer
) -> None:
    watched, other, hall, bus = two_writers
    assert watched.live is not None
    service_id = next(sid for sid, s in watched.live.services.items() if s.code == hall.service_a)
    await watched.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    redis_server.stop()
    await watched.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)  # tickets go on in the outage
    for _ in range(3):
        await other.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await eventually(lambda: not bus.available)
    assert watched.live.waiting_count(service_id) == 2  # the other process's tickets never reached this view
    redis_server.start()
    await eventually(lambda: watched.live is not None and watched.live.waiting_count(service_id) == 5)


def hall_waiting(app: AppProcess, service_code: str) -> int:
    with app.client() as client:
        services = client.get('/api/hall').json()['services']
    return next(int(s['waiting']) for s in services if s['code'] == service_code)


def test_two_app_processes_take_and_call_tickets_through_a_redis_outage_and_agree_after_it(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    assert prepared.small_hall is not None
    window = prepared.small_hall.window_1
    env = {'REDIS_URL': redis_server.url}
    with (
        start_app(prepared.url, tmp_path / 'a', env) as first,
        start_app(prepared.url, tmp_path / 'b', env) as second,
        first.client() as a,
        second.client() as b,
    ):
        desk_a, desk_b = bearer(token(a, BOSS)), bearer(token(b, BOSS))
        assert a.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk_a).status_code == 201
        wait_for(lambda: hall_waiting(second, 'SVC-A') == 1)  # the bus works
        redis_server.stop()
        for client, desk in ((a, desk_a), (a, desk_a), (b, desk_b)):
            taken = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk)
            assert taken.status_code == 201, taken.text  # tickets go on in every process
        called = b.post(f'/api/windows/{window}/call-next', headers=desk_b)
        assert called.status_code == 200, called.text  # and so do calls
        time.sleep(3)  # Redis stays away a while
        redis_server.start()
        wait_for(lambda: hall_waiting(first, 'SVC-A') == 3 and hall_waiting(second, 'SVC-A') == 3, timeout=30)
        assert 'Redis unreachable' in first.output() and 'Redis reachable again' in first.output()
        assert a.post(f'/api/windows/{window}/complete', headers=desk_a).status_code == 200
        again = a.post(f'/api/windows/{window}/call-next', headers=desk_a)
        assert again.status_code == 200 and again.json()['number'] != called.json()['number']  # never the same ticket
        wait_for(lambda: hall_waiting(first, 'SVC-A') == 2 and hall_waiting(second, 'SVC-A') == 2)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'not in time'
        time.sleep(0.1)
