"""`/city` in chromium: the city manager sees both halls of one database live and drills down to a live floor map.

The app serves the small test hall (`main`); the district centre (seed/district) shares its database and has
no process here. A ticket taken in the district while the page is open shows on its card within seconds, and on
the district's floor map while the drill-down is open (without Redis: re-read from the database every 5 s). With
Redis, the district's process (played by the test) publishes on its own stream, and the drill-down follows its
tickets and its configuration changes (a window opened, then removed) from that stream alone.
"""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, closing
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from redis.asyncio import Redis
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import InProcessBus
from app.bus_redis import RedisBus, hall_stream
from app.db import Database
from app.events import HallConfigChanged
from app.models.hall import Hall, Window, WindowState, Zone
from app.models.people import Role
from app.models.ticket import TicketCreate
from app.security.keys import Purpose
from app.services.principal import Principal
from app.services.queue import QueueService
from app.settings import load_settings
from seed.loader import load_seed
from tests.apphost import (
    TEST_SECRET,
    AppProcess,
    NewUser,
    PreparedDatabase,
    prepare_database,
    run_coroutine,
    sqlite_url,
)
from tests.callers import deps_for
from tests.security.routes import sqlite_path
from tests.totp import enrol, finish_login

CITY_MANAGER = ('city01', 'City-Manager-01-pass')
CARD_WAIT_MS = 20_000  # the board reads every 5 s; a busy machine may take a round or two more


async def _add_district(url: str) -> None:
    db = Database(url)
    try:
        await load_seed(db, seed_name='district', secret=TEST_SECRET.encode())
        await enrol(db, secret_key=TEST_SECRET.encode())
    finally:
        await db.dispose()


async def _take_in_district(url: str, service: str) -> None:
    db = Database(url, audit_key=load_settings().key(Purpose.AUDIT))  # taking a ticket writes its audit row
    try:
        async with db.read_session() as s:
            district = (await s.execute(select(Hall.id).where(Hall.code == 'district'))).scalar_one()
        queue = QueueService(deps_for(db, InProcessBus(), hall_id=district))
        await queue.take_ticket(TicketCreate(service_code=service), caller=Principal.system('e2e'))
    finally:
        await db.dispose()


@pytest.fixture
def city(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'), users=[NewUser(*CITY_MANAGER, role=Role.CITY)])
    run_coroutine(lambda: _add_district(prepared.url))
    app = AppProcess(prepared.url, tmp_path).start()
    try:
        yield app, prepared
    finally:
        app.stop()


def test_the_city_manager_sees_both_halls_live_and_drills_down_to_a_floor_map(
    page: Page, city: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = city
    page.goto(f'{app.base_url}/login?next=/city')
    page.get_by_test_id('login-username').fill(CITY_MANAGER[0])
    page.get_by_test_id('login-password').fill(CITY_MANAGER[1])
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(re.compile(r'://[^/]+/city$'))
    main, district = page.get_by_test_id('city-hall-main'), page.get_by_test_id('city-hall-district')
    expect(main).to_contain_text('测试大厅')
    expect(district).to_contain_text('某区政务服务中心')
    expect(page.get_by_test_id('city-hall-district-waiting')).to_have_text('0')
    expect(page.get_by_test_id('city-hall-district-windows')).to_have_text('5/6')

    run_coroutine(lambda: _take_in_district(prepared.url, 'SI-CARD'))
    expect(page.get_by_test_id('city-hall-district-waiting')).to_have_text('1', timeout=CARD_WAIT_MS)
    expect(page.get_by_test_id('city-total-waiting')).to_have_text('1')

    page.get_by_test_id('city-hall-district-map').click()
    page.wait_for_url(re.compile(r'/city/district$'))
    plan = page.get_by_test_id('floor-map')
    expect(plan).to_be_visible()
    expect(plan).to_contain_text('社保医保')
    busy = page.locator('[data-testid=floor-map] .fm-zone.busy')
    expect(busy).not_to_have_count(0)  # the SI-CARD ticket's queue
    before = busy.count()
    run_coroutine(lambda: _take_in_district(prepared.url, 'HUKOU-IN'))  # a queue in the general acceptance zone
    expect(busy).to_have_count(before + 1, timeout=CARD_WAIT_MS)  # live: no reload
    page.get_by_test_id('city-back').click()
    page.wait_for_url(re.compile(r'://[^/]+/city$'))
    expect(page.get_by_test_id('city-hall-main')).to_be_visible()


REDIS = 'redis://127.0.0.1:6379/0'


@asynccontextmanager
async def _district_process(url: str, code: str) -> AsyncIterator[tuple[Database, RedisBus, int]]:
    """The district's own process for one step: its database, its Redis stream (app/bus_redis.py `hall_stream`), its
    hall id."""
    settings = load_settings()
    db = Database(url, audit_key=settings.key(Purpose.AUDIT))
    bus = RedisBus(REDIS, key=settings.key(Purpose.BUS), stream=hall_stream(code))
    await bus.start()
    try:
        async with db.read_session() as s:
            district = (await s.execute(select(Hall.id).where(Hall.code == code))).scalar_one()
        yield db, bus, district
    finally:
        await bus.stop()
        await db.dispose()


async def _take_on_stream(url: str, code: str, service: str) -> None:
    async with _district_process(url, code) as (db, bus, district):
        queue = QueueService(deps_for(db, bus, hall_id=district))
        await queue.take_ticket(TicketCreate(service_code=service), caller=Principal.system('e2e'))


Change = Callable[[AsyncSession, int], Awaitable[HallConfigChanged]]


async def _configure_on_stream(url: str, code: str, change: Change) -> None:
    """The district saves a configuration change, then says so on its stream, as its services do after a commit."""
    async with _district_process(url, code) as (db, bus, district):
        async with db.session() as s, s.begin():
            event = await change(s, district)
        await bus.publish(event)


async def _open_window(s: AsyncSession, district: int) -> HallConfigChanged:
    zone = (await s.execute(select(Zone.id).where(Zone.hall_id == district).limit(1))).scalar_one()
    s.add(Window(hall_id=district, zone_id=zone, number=99, name='临时加开窗口', state=WindowState.OPEN))
    return HallConfigChanged(hall_id=district, kind='window', subject='99', version=1)


async def _close_window(s: AsyncSession, district: int) -> HallConfigChanged:
    await s.execute(delete(Window).where(col(Window.hall_id) == district, col(Window.number) == 99))
    return HallConfigChanged(hall_id=district, kind='window', subject='99', version=2)


@pytest.fixture
def city_on_redis(tmp_path: Path) -> Iterator[tuple[AppProcess, str]]:
    """The app with REDIS_URL; the district under a code of its own: its stream on the shared Redis is this test's."""
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'), users=[NewUser(*CITY_MANAGER, role=Role.CITY)])
    run_coroutine(lambda: _add_district(prepared.url))
    code = f'district-{uuid.uuid4().hex[:8]}'
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db, db:
        db.execute("UPDATE hall SET code = ? WHERE code = 'district'", (code,))
    app = AppProcess(prepared.url, tmp_path, extra_env={'REDIS_URL': REDIS}).start()
    try:
        yield app, code
    finally:
        app.stop()
        run_coroutine(lambda: _forget_stream(code))


async def _forget_stream(code: str) -> None:
    redis = Redis.from_url(REDIS)
    await redis.delete(hall_stream(code))
    await redis.aclose()


def test_the_drill_down_follows_the_other_halls_own_stream_and_its_new_windows(
    page: Page, city_on_redis: tuple[AppProcess, str]
) -> None:
    """With Redis the drill-down never re-reads the database on a timer: what it shows came over the stream."""
    app, code = city_on_redis
    url = app.db_url
    page.goto(f'{app.base_url}/login?next=/city/{code}')
    page.get_by_test_id('login-username').fill(CITY_MANAGER[0])
    page.get_by_test_id('login-password').fill(CITY_MANAGER[1])
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(re.compile(rf'/city/{code}$'))
    plan = page.get_by_test_id('floor-map')
    expect(plan).to_contain_text('社保医保')
    busy = page.locator('[data-testid=floor-map] .fm-zone.busy')
    expect(busy).to_have_count(0)

    run_coroutine(lambda: _take_on_stream(url, code, 'SI-CARD'))
    expect(busy).to_have_count(1, timeout=CARD_WAIT_MS)  # live: no reload

    run_coroutine(lambda: _configure_on_stream(url, code, _open_window))
    expect(plan).to_contain_text('临时加开窗口', timeout=CARD_WAIT_MS)  # a configuration change: no reopening
    expect(busy).to_have_count(1)  # the rebuilt plan keeps the live queue
    run_coroutine(lambda: _configure_on_stream(url, code, _close_window))
    expect(plan).not_to_contain_text('临时加开窗口', timeout=CARD_WAIT_MS)
