"""/me/live in chromium: a signed-in citizen's ticket moves live and one taken later appears; signing out in another
tab ends the page (it says so and stops); anonymous goes to sign in first and comes back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from e2e.sms import texted_code, texts
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.midday import midday_zone
from tests.security.routes import bearer, token

W01 = ('w01', 'Window-01-pass')
PHONE = '13812340001'


@pytest.fixture
def open_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, extra_env={'HALL_TIMEZONE': midday_zone()}) as hall:  # remote tickets: hall hours
        yield hall


def sign_in_to_live(page: Page, app: AppProcess) -> None:
    """Anonymous on /me/live: the sign-in page, then back to /me/live."""
    page.goto(f'{app.base_url}/me/live')
    page.wait_for_url(lambda url: urlsplit(url).path == '/me/login')
    page.get_by_test_id('citizen-phone').fill(PHONE)
    before = len(texts(app))
    page.get_by_test_id('citizen-send-code').click()
    page.get_by_test_id('citizen-code').fill(texted_code(app, after=before))
    page.get_by_test_id('citizen-sign-in').click()
    page.wait_for_url(lambda url: urlsplit(url).path == '/me/live')


def desk_ticket(desk: httpx.Client) -> None:
    assert desk.post('/api/tickets', json={'service_code': 'SVC-A'}).status_code == 201


def take_on_phone(page: Page, app: AppProcess) -> str:
    """A number taken on the phone through the API with the page's own session (as /me's button does)."""
    cookie = next(c['value'] for c in page.context.cookies() if c['name'] == 'halltwin_citizen')
    taken = httpx.post(
        f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A', 'channel': 'mobile'}, headers=bearer(cookie)
    )
    assert taken.status_code == 201, taken.text
    return str(taken.json()['number'])


def test_the_live_page_moves_with_the_queue_shows_a_new_ticket_and_ends_with_the_sign_in(
    page: Page, open_hall: tuple[AppProcess, PreparedDatabase], tmp_path: Path
) -> None:
    app, _ = open_hall
    page.set_viewport_size({'width': 390, 'height': 844})
    sign_in_to_live(page, app)
    expect(page.get_by_test_id('me-live-no-tickets')).to_be_visible()
    expect(page.get_by_test_id('me-live-no-cases')).to_be_visible()
    with httpx.Client(base_url=app.base_url, timeout=10) as desk:
        desk.headers.update(bearer(token(desk, W01)))
        desk_ticket(desk)
        number = take_on_phone(page, app)  # taken after the page opened: it appears
        expect(page.get_by_test_id(f'me-live-ticket-{number}')).to_be_visible()
        expect(page.get_by_test_id(f'me-live-status-{number}')).to_have_text('排队中')
        expect(page.get_by_test_id(f'me-live-ahead-{number}')).to_have_text('前面还有 1 人')
        assert desk.post('/api/windows/1/call-next').status_code == 200
        expect(page.get_by_test_id(f'me-live-ahead-{number}')).to_have_text('下一个就是您，请留意叫号')
    assert page.evaluate('document.documentElement.scrollWidth') <= 390
    page.screenshot(path=str(tmp_path / 'me-live-390.png'), full_page=True)
    other = page.context.new_page()  # the same browser signs out in another tab
    other.goto(f'{app.base_url}/me/logout')
    other.get_by_test_id('citizen-logout').click()
    expect(page.get_by_test_id('me-live-ended')).to_be_visible()
    assert page.evaluate('window.__halltwinMe.ended') is True
    expect(page.get_by_test_id('me-live-offline')).to_be_hidden()  # it does not try again
