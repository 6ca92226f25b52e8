"""The citizen's whole journey in chromium, on the real seed:

a ticket taken at kiosk K01 is announced on /display and called at /window/1; its slip's QR code
(/track) shows the status on a 360-px phone, and nothing about the person (no phone was given: the
window only). A second citizen, who gave a phone at the desk, proves it with the texted code, follows
the case the window opens, rates the service 不满意, and the rectification appears for the department
(公安局户政) on /review.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect
from pyzbar import pyzbar

from e2e.sms import verify_on_phone
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.idnumbers import make_id
from tests.kioskpairing import pair_page
from tests.totp import finish_login, token_body

SPEECH_WAIT_MS = 15_000  # generous: the machine is shared
PUSH_WAIT_MS = 15_000
SECOND_CITIZEN = make_id(dt.date(1980, 3, 15), sequence='517')


@pytest.fixture
def seeded_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, seed='default') as (app, prepared):
        yield app, prepared


def scan(page: Page, test_id: str) -> str:
    """What a phone camera reads from a QR code on screen."""
    shot = page.get_by_test_id(test_id).screenshot()
    [code] = pyzbar.decode(Image.open(io.BytesIO(shot)))
    return code.data.decode('ascii')


def logged_in(context: BrowserContext, base: str, path: str, username: str, password: str) -> Page:
    page = context.new_page()
    page.set_viewport_size({'width': 1366, 'height': 768})
    page.goto(f'{base}{path}')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(re.compile(re.escape(path) + '$'))
    return page


def test_kiosk_to_rating_to_rectification(page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = seeded_hall
    base = app.base_url
    window = next(w for w in httpx.get(f'{base}/api/hall').json()['windows'] if w['number'] == 1)
    expect.set_options(timeout=PUSH_WAIT_MS)

    # the kiosk: a 户籍迁入 from another city, chosen by hand; the ticket carries a QR code to /track's light status
    page.set_viewport_size({'width': 1080, 'height': 1920})
    pair_page(page, base, prepared.url, 'K01')  # an admin paired this screen to kiosk K01
    page.get_by_test_id('kiosk-start-manual').click()
    page.get_by_test_id('kiosk-service-HUKOU-IN').click()
    page.get_by_test_id('kiosk-answer-hukou_local-no').click()
    # the answer redraws the checklist (and its take button): wait for the redrawn answer, or the click hits the old
    # button (the materials alone do not tell: an undecided item is listed before the answer too)
    expect(page.get_by_test_id('kiosk-answer-hukou_local-no')).to_have_attribute('aria-pressed', 'true')
    page.get_by_test_id('kiosk-take').click()
    expect(page.get_by_test_id('kiosk-ticket-number')).to_have_text('H001')
    track_url = scan(page, 'kiosk-ticket-qr')
    assert re.fullmatch(re.escape(base) + r'/track/[A-Za-z0-9_-]{20}/status', track_url), track_url

    # the slip's QR on a phone: the light status page; its link, the person's side: only the window (no phone given)
    phone = page.context.new_page()
    phone.set_viewport_size({'width': 360, 'height': 740})
    phone.goto(track_url)
    expect(phone.get_by_test_id('track-number')).to_have_text('H001')
    expect(phone.get_by_test_id('track-status')).to_have_text('排队中')
    assert phone.evaluate('document.documentElement.scrollWidth') <= 360, 'no sideways scrolling on a phone'
    expect(phone.get_by_test_id('track-person-link')).to_have_attribute('href', re.compile(r'^/track/[\w-]{20}$'))
    person = page.context.new_page()
    person.set_viewport_size({'width': 360, 'height': 740})
    person.goto(track_url.removesuffix('/status'))
    expect(person.get_by_test_id('track-window-only')).to_contain_text('请到窗口')
    expect(person.get_by_test_id('track-send-code')).to_have_count(0)
    person.close()

    # a second citizen gave a phone at the desk: the texted code opens their side of /track
    with httpx.Client(base_url=base) as api:
        clerk = token_body(api, 'manager', prepared.passwords['manager'])
        taken = api.post(
            '/api/tickets',
            json={'service_code': 'HUKOU-IN', 'id_number': SECOND_CITIZEN, 'phone': '13900005678'},
            headers={'Authorization': f'Bearer {clerk.json()["access_token"]}'},
        )
    assert taken.status_code == 201, taken.text
    second = taken.json()
    own = page.context.new_page()
    own.set_viewport_size({'width': 360, 'height': 740})
    own.goto(f'{base}{second["track_path"]}')
    expect(own.get_by_test_id('track-number')).to_have_text(second['number'])
    verify_on_phone(own, app)
    expect(own.get_by_test_id('track-consents')).to_be_visible()

    # the call board, voice switched on once
    board = page.context.new_page()
    board.set_viewport_size({'width': 1920, 'height': 1080})
    board.goto(f'{base}/display')
    board.get_by_test_id('voice-overlay').click()
    expect(board.get_by_test_id('voice-overlay')).to_have_count(0)

    # window 1 calls the ticket: the board shows and speaks it, the phone is told where to go
    desk = logged_in(page.context, base, f'/window/{window["id"]}', 'w01', prepared.passwords['w01'])
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text('H001')
    expect(board.get_by_test_id('board-now-number')).to_have_text('H001')
    board.wait_for_function(
        "() => (window.__halltwinAnnouncements || []).includes('请 H001 号到 1 号窗口办理')", timeout=SPEECH_WAIT_MS
    )
    expect(phone.get_by_test_id('track-window')).to_have_text('请到 1 号窗口办理')

    desk.get_by_test_id('desk-complete').click()
    expect(phone.get_by_test_id('track-status')).to_have_text('窗口办理完毕')
    expect(phone.get_by_test_id('track-rating')).to_have_count(0)  # the slip alone rates nothing

    # the second citizen is called; the window opens the case: its timeline appears on their phone
    desk.get_by_test_id('desk-call-next').click()
    expect(desk.get_by_test_id('desk-current-number')).to_have_text(second['number'])
    desk.get_by_test_id('desk-open-case').click()
    expect(own.get_by_text('户籍审核', exact=True)).to_be_visible()
    expect(own.get_by_text('公安局（户政）').first).to_be_visible()
    desk.get_by_test_id('desk-complete').click()
    expect(own.get_by_test_id('track-status')).to_have_text('窗口办理完毕')

    # the citizen rates the service 不满意
    own.get_by_test_id('rate-level-bad').click()
    own.get_by_test_id('rate-tag-等候时间长').click()
    own.get_by_test_id('rate-comment').fill('排队太久了')
    own.get_by_test_id('rate-submit').click()
    expect(own.get_by_test_id('track-rated')).to_have_text('您的评价：不满意')
    expect(own.get_by_test_id('track-rectification')).to_contain_text('已转交公安局（户政）整改')
    own.screenshot(path=str(app.tmp_dir / 'track-rated.png'), full_page=True)

    # the department sees the rectification on /review (a reviewer's own browser)
    browser = page.context.browser
    assert browser is not None
    review = logged_in(browser.new_context(), base, '/review', 'rv_psb', prepared.passwords['rv_psb'])
    expect(review.get_by_test_id('review-department')).to_contain_text('公安局')
    card = review.locator('[data-testid^="review-rect-"][data-testid$="-rating"]')
    expect(card).to_have_text('不满意 · 等候时间长')
    expect(review.get_by_text('“排队太久了”')).to_be_visible()
    expect(review.get_by_text('户籍迁入 · 户籍审核')).to_be_visible()  # and the case step waiting for its review
