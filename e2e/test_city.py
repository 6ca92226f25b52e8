"""`/city` in chromium: the city manager sees both halls of one database live and drills down to a live floor map.

The app serves the small test hall (`main`); the district centre (seed/district) shares its database and has
no process here. A ticket taken in the district while the page is open shows on its card within seconds, and on
the district's floor map while the drill-down is open (without Redis: re-read from the database every 5 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models.hall import Hall
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
