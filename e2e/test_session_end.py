"""Staff sessions end everywhere at once, in chromium: an open window desk goes to the login page (with the
reason) when its session is logged out elsewhere, deactivated, moved to another window or left idle, and a
login hand-off code opened in another browser plants no session there.

The app checks open pages every second here (SESSION_CHECK_SECONDS=1; the default is 15 s); a logout needs
no check at all. Every frame the desk's socket receives is recorded, so "never appears" means never sent.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, WebSocket, expect

from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.security.routes import bearer, sqlite_path, token
from tests.totp import finish_login

BOSS = ('boss', 'Manager-01-pass')
SESSION_COOKIE = 'ht_session'
PROMISE_MS = 60_000  # every open page of an ended session is on the login page within 60 s
STAFF = {
    'logout': NewUser('ee01', 'Ended-0001-pass', window=1),
    'deactivated': NewUser('ee02', 'Ended-0002-pass', window=2),
    'changed': NewUser('ee04', 'Ended-0004-pass', window=4),
    'idle': NewUser('ee11', 'Ended-0011-pass', window=1),
    'handoff': NewUser('ee12', 'Ended-0012-pass', window=2),
}
SERVICE_OF_WINDOW = {1: 'SVC-A', 2: 'SVC-B', 4: 'SVC-C'}
REASON_TEXTS = {
    'logged_out': '您已安全退出|You have logged out',
    'deactivated': '该账户已停用|deactivated',
    'changed': '角色、窗口或部门已变更|role, window or department changed',
    'idle': '长时间未操作|inactivity',
}


@pytest.fixture(scope='module')
def hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'SESSION_CHECK_SECONDS': '1'}
    users = list(STAFF.values())
    with running_app(tmp_path_factory.mktemp('e2e-session-end'), users=users, extra_env=env) as (app, prepared):
        yield app, prepared


@pytest.fixture(scope='module')
def boss(hall: tuple[AppProcess, PreparedDatabase]) -> dict[str, str]:
    """The manager's bearer headers, signed in once for the module: the second factor takes each 30-second
    step once per person, so a fourth sign-in in a minute would wait for the next step."""
    with hall[0].client() as client:
        return bearer(token(client, BOSS))


@dataclass
class Frames:
    """Every websocket frame the page received, with when."""

    received: list[tuple[float, str]] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        def on_socket(socket: WebSocket) -> None:
            socket.on('framereceived', lambda payload: self.received.append((time.monotonic(), str(payload))))

        page.on('websocket', on_socket)

    def since(self, moment: float) -> str:
        return '\n'.join(payload for at, payload in self.received if at >= moment)


def _window_id(prepared: PreparedDatabase, number: int) -> int:
    hall = prepared.small_hall
    assert hall is not None
    return {1: hall.window_1, 2: hall.window_2, 4: hall.window_4}[number]


def _login(page: Page, base: str, user: NewUser, next_path: str) -> None:
    page.goto(f'{base}/login?next={quote(next_path, safe="")}')
    page.get_by_test_id('login-username').fill(user.username)
    page.get_by_test_id('login-password').fill(user.password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)


def _call(app: AppProcess, prepared: PreparedDatabase, boss: dict[str, str], number: int) -> str:
    """A manager calls a new ticket at window `number` (completing whatever is current there first)."""
    window_id = _window_id(prepared, number)
    with app.client() as client:
        client.post(f'/api/windows/{window_id}/complete', headers=boss)
        taken = client.post('/api/tickets', json={'service_code': SERVICE_OF_WINDOW[number]}, headers=boss)
        assert taken.status_code == 201, taken.text
        called = client.post(f'/api/windows/{window_id}/call-next', headers=boss)
        assert called.status_code == 200, called.text
    return str(called.json()['number'])


def _sql(prepared: PreparedDatabase, statement: str, *values: Any) -> None:
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db, db:
        db.execute(statement, values)


def _open_desk(
    page: Page, app: AppProcess, prepared: PreparedDatabase, boss: dict[str, str], user: NewUser
) -> tuple[str, Frames]:
    """Log `user` in on the login page and open their desk; a call there shows up, so the desk is live."""
    assert user.window is not None
    frames = Frames()
    frames.watch(page)
    desk = f'/window/{_window_id(prepared, user.window)}'
    _login(page, app.base_url, user, desk)
    expect(page).to_have_url(f'{app.base_url}{desk}')
    live = _call(app, prepared, boss, user.window)
    expect(page.get_by_test_id('desk-current-number')).to_have_text(live)
    return desk, frames


def _assert_on_login(page: Page, app: AppProcess, desk: str, reason: str) -> None:
    expect(page).to_have_url(f'{app.base_url}/login?next={quote(desk)}&reason={reason}', timeout=PROMISE_MS)
    expect(page.get_by_text(re.compile(REASON_TEXTS[reason]))).to_be_visible()


def _session_cookie(context: BrowserContext) -> str | None:
    found = [cookie['value'] for cookie in context.cookies() if cookie['name'] == SESSION_COOKIE]
    return found[0] if found else None


def test_a_desk_logged_out_through_the_api_leaves_at_once_and_never_shows_a_call_made_meanwhile(
    page: Page, hall: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = hall
    user = STAFF['logout']
    desk, frames = _open_desk(page, app, prepared, boss, user)
    session = _session_cookie(page.context)
    assert session is not None
    logged_out = time.monotonic()
    assert httpx.post(f'{app.base_url}/api/auth/logout', headers=bearer(session)).status_code == 204
    meanwhile = _call(app, prepared, boss, 1)
    _assert_on_login(page, app, desk, 'logged_out')
    assert time.monotonic() - logged_out < 10  # over the bus, not after some later check
    assert meanwhile not in frames.since(logged_out)


def test_a_deactivated_account_leaves_its_open_desk_within_the_promise(
    page: Page, hall: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = hall
    user = STAFF['deactivated']
    desk, frames = _open_desk(page, app, prepared, boss, user)
    _sql(prepared, 'UPDATE staff_user SET active = 0 WHERE username = ?', user.username)
    _assert_on_login(page, app, desk, 'deactivated')
    ended = time.monotonic()
    after = _call(app, prepared, boss, 2)
    page.wait_for_timeout(1000)
    assert after not in frames.since(ended)


def test_staff_moved_to_another_window_leave_the_desk_of_the_old_one(
    page: Page, hall: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = hall
    user = STAFF['changed']
    desk, frames = _open_desk(page, app, prepared, boss, user)
    _sql(prepared, 'UPDATE staff_user SET window_id = ? WHERE username = ?', _window_id(prepared, 2), user.username)
    _assert_on_login(page, app, desk, 'changed')
    ended = time.monotonic()
    after = _call(app, prepared, boss, 4)
    page.wait_for_timeout(1000)
    assert after not in frames.since(ended)


def test_an_idle_session_leaves_its_open_desk(
    page: Page, hall: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    """31 minutes without a request, set in the database: the open desk itself never counted as activity."""
    app, prepared = hall
    user = STAFF['idle']
    desk, _ = _open_desk(page, app, prepared, boss, user)
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
        session_id, seen = db.execute(
            'SELECT a.id, a.last_seen_at FROM auth_session a JOIN staff_user u ON u.id = a.user_id'
            ' WHERE u.username = ? ORDER BY a.id DESC LIMIT 1',
            (user.username,),
        ).fetchone()
    page.wait_for_timeout(2500)  # checks of the open desk run meanwhile
    expect(page).to_have_url(f'{app.base_url}{desk}')
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
        assert db.execute('SELECT last_seen_at FROM auth_session WHERE id = ?', (session_id,)).fetchone()[0] == seen
    idle_since = dt.datetime.fromisoformat(seen) - dt.timedelta(minutes=31)
    stored = idle_since.isoformat(sep=' ', timespec='microseconds')
    _sql(prepared, 'UPDATE auth_session SET last_seen_at = ? WHERE id = ?', stored, session_id)
    _assert_on_login(page, app, desk, 'idle')


def test_a_handoff_code_opened_in_another_browser_plants_no_session_and_dies(
    page: Page, browser: Browser, hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = hall
    user = STAFF['handoff']
    desk = f'/window/{_window_id(prepared, 2)}'
    codes: list[str] = []

    def keep(route: Route) -> None:  # browser A types the password; its hand-off is held back
        codes.append(route.request.url)
        route.abort()

    page.route(re.compile(r'.*/auth/complete\?.*'), keep)
    _login(page, app.base_url, user, desk)
    page.wait_for_timeout(500)
    for _ in range(100):
        if codes:
            break
        page.wait_for_timeout(100)
    # one hand-off code (under load chromium may ask for the aborted URL once more: the same code, never another)
    assert codes and set(codes) == {codes[0]} and 'code=' in codes[0]

    other = browser.new_context()  # browser B: the person the link was sent to
    try:
        victim = other.new_page()
        victim.goto(f'{app.base_url}/')  # B has a browser session of its own
        victim.goto(codes[0])
        expect(victim).to_have_url(f'{app.base_url}/login?next={quote(desk)}&reason=expired')
        assert _session_cookie(other) is None
        victim.goto(f'{app.base_url}{desk}')  # and is not logged in anywhere
        expect(victim).to_have_url(re.compile(r'/login\?next='))
    finally:
        other.close()

    page.unroute(re.compile(r'.*/auth/complete\?.*'))
    page.goto(codes[0])  # the code was burnt in B: not even A can use it now
    expect(page).to_have_url(f'{app.base_url}/login?next={quote(desk)}&reason=expired')
    assert _session_cookie(page.context) is None
