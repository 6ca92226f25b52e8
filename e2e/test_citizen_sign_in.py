"""Citizen sign-in by phone in chromium at 360 px: the texted code from the outbox, then an HttpOnly cookie."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from e2e.sms import texted_code, texts
from tests.apphost import AppProcess, PreparedDatabase

LANDING = '/track/not-a-real-code'  # opens for anyone: where next= sends the signed-in citizen


def test_a_citizen_signs_in_on_a_360_px_phone_and_gets_an_httponly_cookie(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase], tmp_path: Path
) -> None:
    app, _ = live_hall
    page.set_viewport_size({'width': 360, 'height': 740})
    page.goto(f'{app.base_url}/me/login?next={LANDING}')
    page.get_by_test_id('citizen-phone').fill('13812345678')
    before = len(texts(app))
    page.get_by_test_id('citizen-send-code').click()
    expect(page.get_by_test_id('citizen-code-sent')).to_contain_text('138****5678')
    expect(page.get_by_test_id('citizen-send-code')).to_be_disabled()
    assert page.evaluate('document.documentElement.scrollWidth') <= 360  # nothing wider than the phone
    page.screenshot(path=str(tmp_path / 'citizen-login-360.png'), full_page=True)
    page.get_by_test_id('citizen-code').fill(texted_code(app, after=before))
    page.get_by_test_id('citizen-sign-in').click()
    page.wait_for_url(lambda url: urlsplit(url).path == LANDING)
    cookies = {cookie['name']: cookie for cookie in page.context.cookies()}
    citizen = cookies['halltwin_citizen']
    assert citizen['httpOnly'] and citizen['sameSite'] == 'Lax' and citizen['value'].startswith('c.')
    assert page.evaluate('document.cookie').find('halltwin_citizen') == -1  # scripts cannot read it
