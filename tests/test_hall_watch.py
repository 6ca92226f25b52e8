"""The live drill-down's watch: another hall's twin follows that hall's own Redis stream, and its configuration
changes too (rebuilt from the database); one watch per hall shared by its pages, redraws coalesced; without Redis
it re-reads the database; the process's own hall is its own twin."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import InProcessBus
from app.bus_redis import RedisBus, hall_stream
from app.db import Database
from app.events import HallConfigChanged
from app.models import TicketCreate
from app.models.hall import ServiceItem, Window, WindowState
from app.security.keys import Purpose, derive_key
from app.services.deps import Deps
from app.services.queue import QueueService
from tests.callers import DESK, deps_for
from tests.easthall import add_east_hall
from tests.factories import SmallHall
from twin.hall_watch import COALESCE, HallWatch, HallWatches
from twin.snapshot import hall_snapshot

REDIS = 'redis://127.0.0.1:6379/0'
KEY = derive_key(b'watch-test-secret-0123456789abcdef01', Purpose.BUS)
PATIENT = 5.0  # seconds


@dataclass(frozen=True)
class City:
    deps: Deps  # the process's own: the small hall's
    east_id: int
    east_code: str  # of its own: the shared Redis serves other test runs too


@pytest.fixture
async def city(db: Database, hall: SmallHall, bus: InProcessBus) -> AsyncIterator[City]:
    code = f'east-{uuid.uuid4().hex[:8]}'
    async with db.session() as s, s.begin():
        east = await add_east_hall(s, code=code, serves=['SVC-C'])
    yield City(deps_for(db, bus, hall_id=hall.hall_id), east.hall_id, code)
    redis = Redis.from_url(REDIS)
    await redis.delete(hall_stream(code))
    await redis.aclose()


async def watches(city: City, *, redis_url: str = REDIS, every: float = 5.0) -> HallWatches:
    own = await hall_snapshot(city.deps, city.deps.hall_id)
    return HallWatches(city.deps, own=own, redis_url=redis_url, bus_key=KEY, every=every)


def svc_c_waiting(watch: HallWatch) -> int:
    return next(queue.waiting for queue in watch.twin.queues.values() if queue.code == 'SVC-C')


async def test_another_halls_ticket_reaches_its_drill_down_from_that_halls_stream(db: Database, city: City) -> None:
    watching = await watches(city)
    watch = await watching.acquire(city.east_id, city.east_code)
    assert svc_c_waiting(watch) == 0
    east_bus = RedisBus(REDIS, key=KEY, stream=hall_stream(city.east_code))  # 东区's process
    await east_bus.start()
    try:
        await QueueService(deps_for(db, east_bus, hall_id=city.east_id)).take_ticket(
            TicketCreate(service_code='SVC-C'), caller=DESK
        )
        await watch.redraw.emitted(timeout=PATIENT)
    finally:
        await east_bus.stop()
    assert svc_c_waiting(watch) == 1
    await watching.stop()


async def test_one_watch_serves_every_page_on_a_hall_and_stops_with_the_last(city: City) -> None:
    watching = await watches(city)
    first = await watching.acquire(city.east_id, city.east_code)
    second = await watching.acquire(city.east_id, city.east_code)
    assert first is second and first.watchers == 2

    await watching.release(first)
    assert first.stops  # still running for the second page
    await watching.release(second)

    assert not first.stops  # stopped: its reader and its subscription are gone
    assert await watching.acquire(city.east_id, city.east_code) is not first
    await watching.stop()


async def test_changes_in_one_burst_make_one_redraw(city: City) -> None:
    watching = await watches(city)
    watch = await watching.acquire(city.east_id, city.east_code)
    redraws: list[None] = []
    watch.redraw.subscribe(lambda: redraws.append(None), unsubscribe_on_delete=False)

    for _ in range(50):  # a busy hall's burst of events, each touching the twin
        watch.touched()
    await watch.redraw.emitted(timeout=PATIENT)
    await asyncio.sleep(2 * COALESCE)

    assert len(redraws) == 1
    await watching.stop()


async def test_without_redis_the_drill_down_rereads_the_database(db: Database, city: City) -> None:
    watching = await watches(city, redis_url='', every=0.1)
    watch = await watching.acquire(city.east_id, city.east_code)
    east_bus = InProcessBus()  # 东区's process: nothing of it reaches this one
    await QueueService(deps_for(db, east_bus, hall_id=city.east_id)).take_ticket(
        TicketCreate(service_code='SVC-C'), caller=DESK
    )
    await east_bus.stop()

    await watch.redraw.emitted(timeout=PATIENT)

    assert svc_c_waiting(watch) == 1
    await watching.stop()


async def test_the_processs_own_hall_is_drawn_from_its_own_live_twin(city: City) -> None:
    watching = await watches(city)
    watch = await watching.acquire(city.deps.hall_id, 'main')
    assert watch.twin is watching.own
    await watching.stop()


Change = Callable[[AsyncSession], Awaitable[object]]


async def configured(db: Database, east_bus: RedisBus, watch: HallWatch, change: Change) -> None:
    """东区's process saves a configuration change and says so on its stream; the drill-down has redrawn it."""
    async with db.session() as s, s.begin():
        await change(s)
    await east_bus.publish(HallConfigChanged(hall_id=watch.hall_id, kind='window', version=1))
    await watch.redraw.emitted(timeout=PATIENT)


async def test_a_window_added_or_removed_and_a_service_renamed_in_the_watched_hall_reach_its_drill_down(
    db: Database, city: City
) -> None:
    watching = await watches(city)
    watch = await watching.acquire(city.east_id, city.east_code)
    zone_id = next(iter(watch.twin.zones))
    east_bus = RedisBus(REDIS, key=KEY, stream=hall_stream(city.east_code))
    await east_bus.start()

    async def add_window(s: AsyncSession) -> None:
        s.add(Window(hall_id=city.east_id, zone_id=zone_id, number=2, name='东区2号窗口', state=WindowState.OPEN))
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-C'))).scalar_one()
        service.name = '户籍迁入（东区）'

    async def remove_window(s: AsyncSession) -> None:
        await s.execute(delete(Window).where(col(Window.hall_id) == city.east_id, col(Window.number) == 2))

    try:
        await configured(db, east_bus, watch, add_window)
        assert sorted(w.name for w in watch.twin.windows.values()) == ['东区1号窗口', '东区2号窗口']
        assert [q.name for q in watch.twin.queues.values() if q.code == 'SVC-C'] == ['户籍迁入（东区）']

        await configured(db, east_bus, watch, remove_window)
        assert [w.name for w in watch.twin.windows.values()] == ['东区1号窗口']

        await QueueService(deps_for(db, east_bus, hall_id=city.east_id)).take_ticket(
            TicketCreate(service_code='SVC-C'), caller=DESK
        )
        await watch.redraw.emitted(timeout=PATIENT)  # the rebuilt replica follows the stream as the first one did
        assert svc_c_waiting(watch) == 1
    finally:
        await east_bus.stop()
    await watching.stop()
