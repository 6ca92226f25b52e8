"""/guide and /guide/{code} in NiceGUI's simulated browser, on the default seed's catalogue (phone pages, 360 px)."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from app.clock import hall_day, utcnow
from app.db import Database
from app.services.guide import BestTimes, DayWaits
from app.settings import get_settings
from seed import load_seed
from seed.history import ensure_history
from tests.apphost import run_coroutine
from tests.dbs import SqliteTemplate

SECRET = b'guide-page-secret-0123456789-0123456789'
PATIENT = 40  # retries of 0.1 s: an answer re-reads the guide on its own task
FORECAST = 600  # retries of 0.1 s: the wait table follows the page once a year of history is fitted


def texts_in(user: User, marker: str) -> list[str]:
    """The texts of every label inside the marked element (a container's own content is empty)."""
    with user:
        return [
            str(child.text)
            for element in user.find(marker=marker).elements
            for child in element.descendants()
            if isinstance(child, ui.label)
        ]


async def shows(user: User, marker: str, text: str, *, retries: int = PATIENT, absent: bool = False) -> None:
    """Wait until a label inside the marked element contains `text` (or none does, when `absent`)."""
    for _ in range(retries):
        if any(text in found for found in texts_in(user, marker)) != absent:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f'{marker}: {text!r} {"still shown" if absent else "not shown"} in {texts_in(user, marker)}')


async def _seed(url: str, *, history: bool) -> None:
    database = Database(url)
    try:
        await load_seed(database, seed_name='default', secret=SECRET)
        if history:
            await ensure_history(database, hall_code='main', end=hall_day(utcnow(), get_settings().tz))
    finally:
        await database.dispose()


@pytest.fixture(scope='module')
def seeded_files(tmp_path_factory: pytest.TempPathFactory, sqlite_template: SqliteTemplate) -> dict[bool, Path]:
    """The default seed, loaded once per module (its accounts are slow to hash): without and with a year of
    synthetic arrivals (the forecast's input). Each test gets its own copy."""
    folder = tmp_path_factory.mktemp('guide-seed')
    files = {}
    for history in (False, True):
        url = sqlite_template.copy_to(folder / f'seed-{history}.db')
        run_coroutine(lambda url=url, history=history: _seed(url, history=history))
        files[history] = folder / f'seed-{history}.db'
    return files


def _use(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A copy of a seeded file as DATABASE_URL for the app under NiceGUI's `user`."""
    target = tmp_path / 'ui.db'
    shutil.copyfile(source, target)
    monkeypatch.setenv('DATABASE_URL', f'sqlite+aiosqlite:///{target}')
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def seeded_ui(seeded_files: dict[bool, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield from _use(seeded_files[False], tmp_path, monkeypatch)


@pytest.fixture
def seeded_history_ui(
    seeded_files: dict[bool, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    yield from _use(seeded_files[True], tmp_path, monkeypatch)


async def test_the_catalogue_lists_departments_and_search_finds_the_second_hand_transfer(
    seeded_ui: None, user: User
) -> None:
    await user.open('/guide')
    await user.should_see(marker='guide-dept-REALTY')
    await user.should_see(marker='guide-dept-SAMR')
    user.find(marker='guide-search').type('二手房')
    await user.should_see(marker='guide-results')
    await user.should_see(marker='guide-service-RE-TRANSFER')
    await user.should_see('不动产转移登记')
    await user.should_not_see(marker='guide-service-BIZ-OPEN')
    user.find(marker='guide-search').clear().type('没有这种事项')
    await user.should_see('没有找到相关事项')


async def test_a_search_link_opens_with_its_words_in_the_box(seeded_ui: None, user: User) -> None:
    await user.open('/guide?q=企业')
    await user.should_see(marker='guide-service-BIZ-OPEN')
    await user.should_not_see(marker='guide-service-RE-TRANSFER')


async def test_answers_personalise_the_checklist_in_the_page(seeded_ui: None, user: User) -> None:
    await user.open('/guide/RE-TRANSFER')
    await user.should_see(marker='guide-name', content='不动产转移登记')
    await user.should_see(marker='guide-description', content='过户')
    await shows(user, 'guide-materials', '原不动产权证书')
    await shows(user, 'guide-materials', '如果是「二手房」才需要')
    with user:
        [radio] = user.find(marker='guide-answer-property_type').elements
        assert isinstance(radio, ui.radio)
        radio.value = 'second_hand'
    await shows(user, 'guide-materials', '购房合同备案', absent=True)
    await shows(user, 'guide-materials', '原不动产权证书')
    await shows(user, 'guide-materials', '可授权调取部门数据免交')
    with user:
        radio.value = 'new'
    await shows(user, 'guide-materials', '购房合同备案')
    await shows(user, 'guide-materials', '原不动产权证书', absent=True)


async def test_the_guide_lists_the_windows_serving_the_service_with_their_hours(
    seeded_ui: None, user: User, tmp_path: Path
) -> None:
    hours = '[{"start": "09:00", "end": "12:00", "days": [1, 2, 3, 4, 5]}, {"start": "13:30", "end": "16:00"}]'
    with sqlite3.connect(tmp_path / 'ui.db') as connection:
        connection.execute('UPDATE window SET hours = ? WHERE number = 12', (hours,))
    await user.open('/guide/RE-TRANSFER')
    await shows(user, 'guide-window-11', '与大厅办公时间一致')
    await shows(user, 'guide-window-12', '周一至周五 09:00-12:00；每个工作日 13:30-16:00')
    await user.should_see(marker='guide-window-25')
    await user.should_not_see(marker='guide-window-1')


async def test_the_steps_show_parallel_departments_deadlines_and_links_on(seeded_ui: None, user: User) -> None:
    await user.open('/guide/RE-TRANSFER')
    await shows(user, 'guide-stage-2', '权属核定')
    await shows(user, 'guide-stage-2', '契税完税核验')
    await user.should_see('以下部门同时办理')
    await shows(user, 'guide-stage-1', '2个工作日')
    await user.should_see(marker='guide-remote')
    await user.should_see(marker='guide-back')
    await user.should_see(marker='guide-best')


async def test_instant_approval_and_zero_materials_carry_badges(seeded_ui: None, user: User) -> None:
    await user.open('/guide/SI-ENROLL?employment=flexible')
    await user.should_see(marker='guide-instant', content='秒批')
    await user.open('/guide/RE-QUERY')
    await user.should_see(marker='guide-zero', content='零材料')


async def test_an_unknown_service_and_refused_answers_are_said_in_words(seeded_ui: None, user: User) -> None:
    await user.open('/guide/NO-SUCH')
    await user.should_see(marker='guide-error', content='没有事项编码')
    await user.should_see(marker='guide-back')
    await user.open('/guide/RE-TRANSFER?property_type=<b>bold</b>')
    await user.should_see(marker='guide-error', content='<b>bold</b>')
    await shows(user, 'guide-materials', '如果是「二手房」才需要')  # shown without the answer


async def test_the_page_is_drawn_while_the_wait_table_is_still_being_worked_out(
    seeded_history_ui: None, user: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = asyncio.Event()
    of = BestTimes.of

    async def slow(self: BestTimes, service_id: int) -> list[DayWaits]:
        await held.wait()  # a forecast fit that takes as long as the test says
        return await of(self, service_id)

    monkeypatch.setattr(BestTimes, 'of', slow)
    await user.open('/guide/RE-TRANSFER')
    await user.should_see(marker='guide-materials')
    await user.should_see(marker='guide-best-loading')
    await user.should_not_see(marker='guide-wait-table')
    held.set()
    await user.should_see(marker='guide-wait-table', retries=FORECAST)
    await user.should_not_see(marker='guide-best-loading')


async def test_quiet_hours_offer_a_booking_link_to_their_half_hour_slot(seeded_history_ui: None, user: User) -> None:
    await user.open('/guide/RE-TRANSFER')
    await user.should_see(marker='guide-wait-table', retries=FORECAST)
    await user.should_see(marker='guide-quiet')
    links = [str(link.props['href']) for link in user.find(ui.link).elements]
    booking = [href for href in links if href.startswith('/book/')]
    assert booking, links
    assert all(re.fullmatch(r'/book/RE-TRANSFER\?start=\d{4}-\d\d-\d\dT\d\d%3A[03]0%3A00Z', href) for href in booking)
    assert '/me' in links and '/guide' in links
