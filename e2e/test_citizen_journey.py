"""Before the visit, in chromium on a 360 px phone: sign in with the texted code, read the guide for a
second-hand home transfer, book a quiet slot; then in the hall: check in at the kiosk and get called."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from e2e.sms import texted_code, texts
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.kioskpairing import pair_page

PHONE = '13812345678'
HALL_TZ = ZoneInfo('Asia/Shanghai')  # the default seed's hall time
REFERENCE = re.compile(r'预约号：(\S+)')


@pytest.fixture
def seeded_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The real seed (kiosk K01, window 11 for 不动产转移登记 with its clerk w11); devices do not connect."""
    with running_app(tmp_path, seed='default') as (app, prepared):
        yield app, prepared


def fits_the_phone(page: Page) -> None:
    assert page.evaluate('document.documentElement.scrollWidth') <= 360, page.url


def test_a_citizen_books_a_quiet_slot_from_the_guide_checks_in_at_the_kiosk_and_is_called(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase], tmp_path: Path
) -> None:
    app, prepared = seeded_hall
    page.set_viewport_size({'width': 360, 'height': 740})

    # sign in on the phone with the code the hall texted
    page.goto(f'{app.base_url}/me/login')
    page.get_by_test_id('citizen-phone').fill(PHONE)
    before = len(texts(app))
    page.get_by_test_id('citizen-send-code').click()
    expect(page.get_by_test_id('citizen-code-sent')).to_contain_text('138****5678')
    page.get_by_test_id('citizen-code').fill(texted_code(app, after=before))
    page.get_by_test_id('citizen-sign-in').click()
    page.wait_for_url(lambda url: urlsplit(url).path == '/me')
    expect(page.get_by_test_id('me-tickets')).to_contain_text('近 30 天没有排队记录')
    fits_the_phone(page)

    # the guide: find the second-hand home transfer, answer its question, read the checklist and the steps
    page.get_by_test_id('me-guide').click()
    page.get_by_test_id('guide-search').fill('二手房')
    page.get_by_test_id('guide-service-RE-TRANSFER').click()
    expect(page.get_by_test_id('guide-name')).to_have_text('不动产转移登记')
    page.get_by_test_id('guide-answer-property_type').get_by_text('二手房').click()
    expect(page.get_by_test_id('guide-materials')).to_contain_text('原不动产权证书')
    expect(page.get_by_test_id('guide-steps')).to_contain_text('契税完税核验')
    fits_the_phone(page)
    page.screenshot(path=str(tmp_path / 'guide-360.png'), full_page=True)

    # one tap on a quiet hour opens the booking page with that slot chosen; one more books it (the week's last
    # quiet hour: today's could begin between the two pages, and the booking page offers only slots still ahead)
    quiet = page.locator('[data-testid^="guide-book-"]').last
    start = dt.datetime.fromisoformat(parse_qs(urlsplit(quiet.get_attribute('href') or '').query)['start'][0])
    quiet.click()
    page.wait_for_url(lambda url: urlsplit(url).path == '/book/RE-TRANSFER')
    page.get_by_test_id(f'book-slot-{start.astimezone(HALL_TZ):%H%M}').click()
    expect(page.get_by_test_id('book-qr')).to_be_visible()
    found = REFERENCE.search(page.get_by_test_id('book-reference').inner_text())
    assert found, page.get_by_test_id('book-reference').inner_text()
    reference = found.group(1)
    fits_the_phone(page)

    # 我的 lists the booking with its check-in code
    page.goto(f'{app.base_url}/me')
    expect(page.get_by_test_id(f'me-booking-qr-{reference}')).to_be_visible()

    # in the hall: the kiosk checks the booking in (the reference typed, as the scanner would read its QR)
    kiosk = page.context.new_page()
    kiosk.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(kiosk, app.base_url, prepared.url, 'K01')
    kiosk.get_by_test_id('kiosk-appt-input').fill(reference)
    kiosk.get_by_test_id('kiosk-appt-submit').click()
    kiosk.get_by_test_id('kiosk-answer-property_type-second_hand').click()
    kiosk.get_by_test_id('kiosk-take').click()
    number = kiosk.get_by_test_id('kiosk-ticket-number')
    expect(number).to_have_text(re.compile(r'^[A-Z]\d{3}$'))
    ticket = number.inner_text()

    # the phone shows the ticket, and when window 11 calls it, where to go (pushed, no reload)
    expect(page.get_by_test_id('track-number')).to_have_text(ticket)
    desk = page.context.new_page()
    desk.set_viewport_size({'width': 1366, 'height': 768})
    desk.goto(f'{app.base_url}/window/11')
    desk.get_by_test_id('login-username').fill('w11')
    desk.get_by_test_id('login-password').fill(prepared.passwords['w11'])
    desk.get_by_test_id('login-submit').click()
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text(ticket)
    expect(page.get_by_test_id('track-window')).to_contain_text('11')
    page.screenshot(path=str(tmp_path / 'me-called-360.png'), full_page=True)
    fits_the_phone(page)
