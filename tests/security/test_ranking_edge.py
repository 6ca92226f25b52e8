"""Attacker tests on a running app: the public monthly ranking `/ranking` (评价结果公开, no login).

It names windows and departments and never a person (no staff name, no login name, no phone); a month
in the link that is not a published month (injection, huge, odd digits, the far future) is said in
words and this month is shown instead: never a 500, never markup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from app.bus import InProcessBus
from app.db import Database
from app.security.keys import Purpose
from app.services.journey import build_journey
from app.services.queue import QueueService
from app.settings import load_settings
from tests.apphost import AppProcess, prepare_database, run_coroutine, sqlite_url, start_app
from tests.callers import DESK, as_staff, deps_for
from tests.journeyhall import TicketCreate, sms_act
from tests.security.browser import open_page

SCRIPT = '<script>alert(1)</script>'
PHONE = '13600001234'


async def _ratings(url: str, hall_id: int, window_id: int, tmp: Path) -> None:
    """Two ratings of tickets the clerk w01 (张三) served at window 4: one good, one bad."""
    settings = load_settings().model_copy(update={'var_dir': tmp / 'ratings-var'})
    db = Database(url, audit_key=settings.key(Purpose.AUDIT))
    bus = InProcessBus()
    try:
        deps = deps_for(db, bus, hall_id=hall_id, settings=settings)
        queue, journey = QueueService(deps), build_journey(deps)
        for level in ('very_good', 'bad'):
            await queue.take_ticket(TicketCreate(service_code='SVC-C', phone=PHONE), caller=DESK)
            await queue.call_next(window_id, caller=DESK)
            view = await queue.complete(window_id, caller=as_staff('w01'))
            await journey.evaluations.rate(sms_act(view.ticket.id or 0), level)
    finally:
        await bus.stop()
        await db.dispose()


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    tmp = tmp_path_factory.mktemp('ranking')
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'))
    small = prepared.small_hall
    assert small is not None
    run_coroutine(lambda: _ratings(prepared.url, small.hall_id, small.window_4, tmp))
    app = start_app(prepared.url, tmp)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture
def client(live: AppProcess) -> Iterator[httpx.Client]:
    with live.client() as http:
        yield http


def test_the_ranking_needs_no_login_and_names_windows_and_departments_but_no_person(client: httpx.Client) -> None:
    page = client.get('/ranking')
    assert page.status_code == 200
    html = page.text
    assert '4号窗口' in html and '测试局' in html and '50.0%' in html
    for personal in ('张三', 'w01', PHONE, PHONE[-4:]):
        assert personal not in html, personal


@pytest.mark.parametrize(
    'month',
    [
        "2026-11' OR 1=1 --",
        '2026-11; DROP TABLE evaluation',
        '9' * 5000,
        '9999-12',
        '0000-01',
        '２０２６-１１',
        '%00',
        '-1',
        SCRIPT,
    ],
)
def test_a_month_that_is_not_published_is_said_in_words_and_this_month_is_shown(live: AppProcess, month: str) -> None:
    async def opened() -> None:
        page = await open_page(live.base_url, f'/ranking?month={quote(month, safe="")}')
        error = page.elements[page.element('ranking-error')]
        assert error['text'].startswith(('月份格式应为 年-月，例如 2026-11', '只公开最近 12 个月的评价结果'))
        assert page.elements[page.element('ranking-overall')]['text'].endswith('共 2 条评价，满意率 50.0%')
        assert all(SCRIPT not in str(element.get('props', {})) for element in page.elements.values())

    asyncio.run(opened())


def test_many_months_and_a_huge_query_do_not_break_the_page(client: httpx.Client) -> None:
    many = '&'.join(f'month=2026-{n:02d}' for n in range(1, 13))
    assert client.get(f'/ranking?{many}').status_code == 200
    huge = client.get('/ranking?month=' + '1' * 60_000)
    assert huge.status_code == 200 or 400 <= huge.status_code < 500, huge.status_code
    assert client.get('/ranking').status_code == 200  # still serving
