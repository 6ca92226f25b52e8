"""/guide and /guide/{code} in NiceGUI's simulated browser, on the default seed's catalogue (phone pages, 360 px)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nicegui import ui
from nicegui.testing import User

from app.clock import hall_day, utcnow
from app.db import Database
from app.settings import get_settings
from seed import load_seed
from seed.history import ensure_history
from tests.dbs import SqliteTemplate

SECRET = b'guide-page-secret-0123456789-0123456789'
PATIENT = 40  # retries of 0.1 s: an answer re-reads the guide on its own task


async def _seeded(url: str, monkeypatch: pytest.MonkeyPatch, *, history: bool) -> None:
    """The default seed in a migrated SQLite file, set as DATABASE_URL for the app under NiceGUI's `user`;
    with a year of synthetic arrivals (the forecast's input) when `history`."""
    database = Database(url)
    await load_seed(database, seed_name='default', secret=SECRET)
    if history:
        await ensure_history(database, hall_code='main', end=hall_day(utcnow(), get_settings().tz))
    await database.dispose()
    monkeypatch.setenv('DATABASE_URL', url)
    get_settings.cache_clear()


@pytest.fixture
async def seeded_ui(
    tmp_path: Path, sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    await _seeded(sqlite_template.copy_to(tmp_path / 'ui.db'), monkeypatch, history=False)
    yield
    get_settings.cache_clear()


@pytest.fixture
async def seeded_history_ui(
    tmp_path: Path, sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    monkeypatch.setenv('VAR_DIR', str(tmp_path / 'var'))
    await _seeded(sqlite_template.copy_to(tmp_path / 'ui.db'), monkeypatch, history=True)
    yield
    get_settings.cache_clear()


async def test_the_catalogue_lists_departments_and_search_finds_the_second_hand_transfer(
    seeded_ui: None, user: User
) -> None:
    await user.open('/guide')
    await user.should_see(marker='guide-dept-REALTY')
    await user.should_see(marker='guide-dept-SAMR')
    user.find(marker='guide-search').type('二手房')
    await user.should_see(marker='guide-results')
    await user.should_see(marker='guide-service-RE-TRANSFER', content='不动产转移登记')
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
    await user.should_see(marker='guide-materials', content='原不动产权证书')
    await user.should_see(marker='guide-materials', content='如果是「二手房」才需要')
    with user:
        [radio] = user.find(marker='guide-answer-property_type').elements
        assert isinstance(radio, ui.radio)
        radio.value = 'second_hand'
    await user.should_not_see('购房合同备案', retries=PATIENT)
    await user.should_see(marker='guide-materials', content='原不动产权证书')
    await user.should_see(marker='guide-materials', content='可授权调取部门数据免交')
    with user:
        radio.value = 'new'
    await user.should_see(marker='guide-materials', content='购房合同备案', retries=PATIENT)
    await user.should_not_see('原不动产权证书', retries=PATIENT)


async def test_the_steps_show_parallel_departments_deadlines_and_links_on(seeded_ui: None, user: User) -> None:
    await user.open('/guide/RE-TRANSFER')
    await user.should_see(marker='guide-stage-2', content='权属核定')
    await user.should_see(marker='guide-stage-2', content='契税完税核验')
    await user.should_see('以下部门同时办理')
    await user.should_see(marker='guide-stage-1', content='2个工作日')
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
    await user.should_see(marker='guide-materials', content='如果是「二手房」才需要')  # shown without the answer


async def test_quiet_hours_offer_a_booking_link_to_their_half_hour_slot(seeded_history_ui: None, user: User) -> None:
    await user.open('/guide/RE-TRANSFER')
    await user.should_see(marker='guide-wait-table')
    await user.should_see(marker='guide-quiet')
    links = [str(link.props['href']) for link in user.find(ui.link).elements]
    booking = [href for href in links if href.startswith('/book/')]
    assert booking, links
    assert all(re.fullmatch(r'/book/RE-TRANSFER\?start=\d{4}-\d\d-\d\dT\d\d%3A[03]0%3A00Z', href) for href in booking)
    assert '/me' in links and '/guide' in links
