"""The window rating pad (评价器) in chromium on the real seed: complete at the window -> the pad shows the
service just completed -> one tap -> the rating reaches the manager page; a second tap has nothing to rate."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.kioskpairing import PAIR_WAIT_MS, issue_code, type_code
from tests.totp import finish_login

KPI_WAIT_MS = 90_000  # the manager's KPIs refresh a few seconds after activity, at the latest every half minute
SHOTS = Path('/tmp/shots-ratingpad')


@pytest.fixture(scope='module')
def seeded_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The real seed: window 1 with clerk w01 and rating pad RP-W01, the manager; devices do not connect."""
    with running_app(tmp_path_factory.mktemp('e2e-rating-pad'), seed='default') as (app, prepared):
        yield app, prepared


def screen(browser: Browser, width: int, height: int) -> Page:
    page = browser.new_context(viewport={'width': width, 'height': height}).new_page()
    page.set_default_timeout(PAIR_WAIT_MS)
    return page


def log_in(page: Page, base: str, path: str, username: str, password: str) -> None:
    page.goto(f'{base}/login?next={path}')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(f'{base}{path}')


def test_a_completion_at_the_window_is_rated_on_its_pad_in_one_tap_and_reaches_the_manager(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    base = app.base_url
    expect.set_options(timeout=PAIR_WAIT_MS)
    window = next(w for w in httpx.get(f'{base}/api/hall').json()['windows'] if w['number'] == 1)

    manager = screen(browser, 1280, 800)
    log_in(manager, base, '/manager', 'manager', prepared.passwords['manager'])
    expect(manager.get_by_test_id('kpi-satisfaction-value')).to_have_text('—')  # nothing rated today yet

    pad = screen(browser, 1280, 800)  # the tablet at window 1, paired by an admin's code
    pad.goto(f'{base}/rate/1')
    type_code(pad, issue_code(prepared.url, 'RP-W01'))
    pad.wait_for_url(re.compile(r'/rate/1$'))
    expect(pad.get_by_test_id('pad-idle')).to_be_visible()

    taken = httpx.post(f'{base}/api/tickets', json={'service_code': 'HUKOU-IN'})
    assert taken.status_code == 201, taken.text
    number = taken.json()['number']
    desk = screen(browser, 1366, 768)
    log_in(desk, base, f'/window/{window["id"]}', 'w01', prepared.passwords['w01'])
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text(number)
    desk.get_by_test_id('desk-complete').click()

    expect(pad.get_by_test_id('pad-prompt')).to_be_visible()  # pushed: the pad has no timer
    expect(pad.get_by_test_id('pad-number')).to_have_text(f'号码 {number}')
    expect(pad.get_by_test_id('pad-prompt')).to_contain_text('王晓燕')  # the clerk's display name
    SHOTS.mkdir(exist_ok=True)
    pad.screenshot(path=str(SHOTS / 'pad-prompt-1280.png'))
    pad.get_by_test_id('pad-level-very_good').click()
    expect(pad.get_by_test_id('pad-thanks')).to_be_visible()
    pad.screenshot(path=str(SHOTS / 'pad-thanks-1280.png'))
    expect(pad.get_by_test_id('pad-idle')).to_be_visible()  # thanks, then idle: nothing left to rate

    expect(manager.get_by_test_id('kpi-satisfaction-value')).to_have_text('4.0 分', timeout=KPI_WAIT_MS)
    expect(manager.get_by_test_id('kpi-satisfaction')).to_contain_text('满意 100%')
