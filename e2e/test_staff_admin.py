"""Staff accounts from /admin, in chromium: disabling a clerk sends their open window desk to the login page at
once (over the bus, long before the periodic check) and their password no longer logs in; after a reset the
clerk signs in with the one-time password, is asked for a new one, and reaches the desk with it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Browser, Page, expect

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.totp import finish_login

ADMIN = NewUser('ea01', 'Admin-E2E-0001', role=Role.ADMIN)
CLERK = NewUser('ec02', 'Clerk-E2E-0002', window=2)
MOVER = NewUser('ec04', 'Clerk-E2E-0004', window=4)
CHECK_SECONDS = 45  # the largest period: a desk that leaves within seconds was told over the bus
WAIT_MS = 20_000
SHOTS = Path('/tmp/shots-staff')


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'SESSION_CHECK_SECONDS': str(CHECK_SECONDS)}
    users = [ADMIN, CLERK, MOVER]
    with running_app(tmp_path_factory.mktemp('e2e-staff'), users=users, extra_env=env) as (app, prepared):
        yield app, prepared


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    expect.set_options(timeout=WAIT_MS)


def _window_id(prepared: PreparedDatabase, number: int) -> int:
    hall = prepared.small_hall
    assert hall is not None
    return {1: hall.window_1, 2: hall.window_2, 4: hall.window_4}[number]


def _login(page: Page, base: str, username: str, password: str, path: str) -> None:
    page.goto(f'{base}/login?next={quote(path, safe="")}')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)


def _console(browser: Browser, app: AppProcess) -> Page:
    """The admin signed in on /admin's staff tab, at 1280 px."""
    page = browser.new_context(viewport={'width': 1280, 'height': 900}).new_page()
    _login(page, app.base_url, ADMIN.username, ADMIN.password, '/admin')
    page.wait_for_url(f'{app.base_url}/admin')
    page.get_by_role('tab', name='员工账号').click()
    expect(page.get_by_test_id(f'admin-staff-{CLERK.username}')).to_be_visible()
    return page


def test_disabling_a_clerk_sends_the_open_desk_to_login_at_once_and_login_is_refused(
    page: Page, browser: Browser, hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = hall
    desk = f'/window/{_window_id(prepared, 2)}'
    _login(page, app.base_url, CLERK.username, CLERK.password, desk)
    expect(page).to_have_url(f'{app.base_url}{desk}')
    console = _console(browser, app)
    SHOTS.mkdir(parents=True, exist_ok=True)
    console.wait_for_timeout(600)  # the tab's slide has ended
    console.screenshot(path=str(SHOTS / 'admin-staff-1280.png'), full_page=True)

    console.get_by_test_id(f'admin-staff-{CLERK.username}-disable').click()
    console.get_by_test_id('admin-staff-confirm').click()
    disabled = time.monotonic()
    expect(page).to_have_url(f'{app.base_url}/login?next={quote(desk)}&reason=deactivated')
    assert time.monotonic() - disabled < CHECK_SECONDS / 3  # over the bus, not at the next check
    expect(console.get_by_test_id(f'admin-staff-{CLERK.username}-state')).to_have_text('已停用')

    page.get_by_test_id('login-username').fill(CLERK.username)
    page.get_by_test_id('login-password').fill(CLERK.password)
    page.get_by_test_id('login-submit').click()
    expect(page.get_by_test_id('login-error')).to_contain_text('用户名或密码错误')
    expect(page).to_have_url(re.compile(r'/login'))
    console.context.close()


def test_after_a_reset_the_clerk_chooses_a_new_password_and_reaches_the_desk(
    page: Page, browser: Browser, hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = hall
    console = _console(browser, app)
    console.get_by_test_id(f'admin-staff-{MOVER.username}-reset').click()
    console.get_by_test_id('admin-staff-confirm').click()
    one_time = console.get_by_test_id('admin-staff-password').inner_text()
    console.screenshot(path=str(SHOTS / 'admin-staff-reset-1280.png'))
    console.get_by_test_id('admin-staff-password-close').click()
    expect(console.get_by_test_id('admin-staff-password')).to_have_count(0)
    console.context.close()

    desk = f'/window/{_window_id(prepared, 4)}'
    page.set_viewport_size({'width': 1280, 'height': 900})
    _login(page, app.base_url, MOVER.username, one_time, desk)
    new_password = page.get_by_test_id('login-new-password')
    expect(new_password).to_be_visible()
    expect(page.get_by_test_id('login-error')).to_contain_text('请设置新密码')
    page.screenshot(path=str(SHOTS / 'login-new-password-1280.png'))
    new_password.fill('short')
    page.get_by_test_id('login-submit').click()
    expect(page.get_by_test_id('login-error')).to_contain_text('至少 10 位')
    new_password.fill('Chosen-By-Clerk-4')
    page.get_by_test_id('login-submit').click()
    expect(page).to_have_url(f'{app.base_url}{desk}')
