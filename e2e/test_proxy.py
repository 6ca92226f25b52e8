"""亲情代办 in chromium on the real seed: an elderly citizen's daughter follows and helps from her own phone.

The citizen (ID card and phone given at the kiosk) invites her on /track; she scans the invitation's QR
code, sees the ticket move and the case open, says a document is ready; the citizen confirms it; then
the citizen ends the help and the daughter's page closes at once. Both phones are 360 px wide.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from e2e.sms import verify_on_phone
from e2e.test_journey import logged_in, scan
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.idnumbers import make_id
from tests.totp import token_body

PUSH_WAIT_MS = 15_000
ELDER = make_id(dt.date(1950, 3, 8), sequence='421')


@pytest.fixture
def seeded_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path, seed='default') as (app, prepared):
        yield app, prepared


def phone(page: Page) -> Page:
    other = page.context.browser.new_context().new_page() if page.context.browser else page.context.new_page()
    other.set_viewport_size({'width': 360, 'height': 740})
    return other


def test_a_daughter_helps_from_her_phone_until_the_citizen_ends_it(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    base = app.base_url
    expect.set_options(timeout=PUSH_WAIT_MS)
    with httpx.Client(base_url=base) as desk:  # a clerk takes the ticket with the elder's ID card and phone
        clerk = token_body(desk, 'manager', prepared.passwords['manager'])
        taken = desk.post(
            '/api/tickets',
            json={'service_code': 'HUKOU-IN', 'id_number': ELDER, 'phone': '13900001234'},
            headers={'Authorization': f'Bearer {clerk.json()["access_token"]}'},
        )
    assert taken.status_code == 201, taken.text
    ticket = taken.json()

    citizen = phone(page)
    citizen.goto(f'{base}{ticket["track_path"]}')
    verify_on_phone(citizen, app)
    expect(citizen.get_by_test_id('track-proxy')).to_contain_text('当前没有亲友代办')
    citizen.get_by_test_id('proxy-form').click()
    citizen.get_by_test_id('proxy-invite').click()
    link = scan(citizen, 'proxy-qr')
    assert re.fullmatch(re.escape(base) + r'/proxy/[A-Za-z0-9_-]{32}', link), link

    daughter = phone(page)
    daughter.goto(link)
    expect(daughter.get_by_test_id('proxy-banner')).to_contain_text('您正在协助家人办事（子女）')
    expect(daughter.get_by_test_id('track-number')).to_have_text(ticket['number'])
    expect(daughter.get_by_test_id('proxy-help')).to_contain_text('窗口受理后')
    expect(citizen.get_by_test_id('proxy-grants')).to_contain_text('已加入')
    assert daughter.evaluate('document.documentElement.scrollWidth') <= 360, 'no sideways scrolling on a phone'

    window = next(w for w in httpx.get(f'{base}/api/hall').json()['windows'] if w['number'] == 1)
    desk = logged_in(page.context, base, f'/window/{window["id"]}', 'w01', prepared.passwords['w01'])
    desk.get_by_test_id('desk-call-next').click()
    expect(daughter.get_by_test_id('track-window')).to_have_text('请到 1 号窗口办理')
    desk.get_by_test_id('desk-open-case').click()
    ready = daughter.locator('[data-testid^="proxy-ready-"]').first
    expect(ready).to_be_visible()
    ready.click()
    expect(daughter.get_by_test_id('proxy-help')).to_contain_text('已告诉本人，等待确认')
    accept = citizen.locator('[data-testid^="proxy-accept-"]')
    expect(accept).to_have_count(1)
    citizen.screenshot(path=str(app.tmp_dir / 'proxy-citizen.png'), full_page=True)
    accept.click()
    expect(daughter.get_by_text('已备好（亲友协助，本人确认）')).to_be_visible()
    daughter.screenshot(path=str(app.tmp_dir / 'proxy-daughter.png'), full_page=True)

    citizen.locator('[data-testid^="proxy-end-"]').click()
    expect(daughter.get_by_test_id('proxy-ended')).to_contain_text('本次代办已结束')
    expect(daughter.get_by_test_id('track-ticket')).to_have_count(0)
    daughter.goto(link)
    expect(daughter.get_by_test_id('proxy-ended')).to_contain_text('代办链接已结束或无效')
