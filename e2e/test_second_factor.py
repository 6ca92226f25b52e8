"""In chromium: a manager without a second factor is sent to enrolment, scans, confirms, gets recovery codes
once, and only then reaches /manager; an enrolled manager's password alone leads to the code step."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Page, expect

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, prepare_database, sqlite_url, start_app
from tests.security.routes import sqlite_path
from tests.totp import code, person

FRESH = NewUser('fresh01', 'Fresh-0001-pass', role=Role.MANAGER)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[AppProcess]:
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'), users=[FRESH])
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db, db:
        db.execute("DELETE FROM staff_totp WHERE user_id = (SELECT id FROM staff_user WHERE username = 'fresh01')")
    with start_app(prepared.url, tmp_path) as app:
        yield app


def _password(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f'{base}/login?next=/manager')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()


def test_enrolment_comes_first_and_the_code_step_after(live: AppProcess, page: Page) -> None:
    page.set_viewport_size({'width': 390, 'height': 844})
    _password(page, live.base_url, FRESH.username, FRESH.password)
    page.wait_for_url('**/enrol?next=/manager')
    page.goto(f'{live.base_url}/manager')  # nothing else until enrolled
    page.wait_for_url('**/enrol?next=/manager')
    secret = page.get_by_test_id('enrol-secret').inner_text()
    page.get_by_test_id('enrol-code').fill('000000' if pyotp.TOTP(secret).now() != '000000' else '111111')
    page.get_by_test_id('enrol-confirm').click()
    expect(page.get_by_test_id('enrol-error')).not_to_be_empty()
    page.get_by_test_id('enrol-code').fill(pyotp.TOTP(secret).now())
    page.get_by_test_id('enrol-confirm').click()
    expect(page.get_by_test_id('enrol-recovery-codes').locator('div')).to_have_count(10)
    page.get_by_test_id('enrol-continue').click()
    page.wait_for_url('**/manager')

    page.context.clear_cookies()
    _password(page, live.base_url, 'boss', 'Manager-01-pass')
    expect(page.get_by_test_id('login-totp')).to_be_visible()
    assert '/login' in page.url
    page.get_by_test_id('login-totp').fill(code(person(live.base_url, 'boss')))
    page.get_by_test_id('login-submit').click()
    page.wait_for_url('**/manager')
