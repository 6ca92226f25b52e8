"""Security in chromium: the login cookie, rotation, logout, open redirects, XSS, and a copied client id.

Every login here comes from 127.0.0.1, and five failures from one address lock it for 15 minutes:
tests that fail logins on purpose get their own app and stay below five.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import pytest
import socketio
from playwright.sync_api import BrowserContext, Dialog, Page, Route, expect

from app.db import Database
from app.models.people import Role
from app.users import add_user
from tests.apphost import (
    AppProcess,
    NewUser,
    PreparedDatabase,
    prepare_database,
    run_coroutine,
    running_app,
    sqlite_url,
    start_app,
)
from tests.security.routes import PAGES, audit_rows, bearer, db_state, hall_state, session_rows, sqlite_path, token
from tests.totp import finish_login, token_body

W01 = ('w01', 'Window-01-pass')
SESSION_COOKIE = 'ht_session'
XSS = [
    '<script>window.__xss=1</script>',
    '<img src=x onerror="window.__xss=1">',
    '<svg onload="window.__xss=1;alert(1)">',
]
SQL = ["' OR 1=1 --", "'; DROP TABLE ticket; --", '" OR ""="', '1; SELECT pg_sleep(1)']
DISPLAY_NAME = '<img src=y onerror="window.__xss=2">张<script>window.__xss=2</script>'
BAD_LOGIN = 'wrong username or password'


@pytest.fixture(scope='module')
def login_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """An app for successful logins only (no failures, so no address lockout)."""
    with running_app(tmp_path_factory.mktemp('e2e-login')) as (app, prepared):
        yield app, prepared


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Every alert/confirm/prompt the page opens (there must be none)."""
    opened: list[str] = []

    def record(dialog: Dialog) -> None:
        opened.append(dialog.message)
        dialog.dismiss()

    page.on('dialog', record)
    return opened


def login(page: Page, base: str, who: tuple[str, str], *, next_path: str | None = None) -> None:
    page.goto(f'{base}/login' + (f'?next={quote(next_path, safe="")}' if next_path is not None else ''))
    page.get_by_test_id('login-username').fill(who[0])
    page.get_by_test_id('login-password').fill(who[1])
    page.get_by_test_id('login-submit').click()
    finish_login(page)


def session_cookie(context: BrowserContext) -> dict[str, Any] | None:
    found = [cookie for cookie in context.cookies() if cookie['name'] == SESSION_COOKIE]
    assert len(found) <= 1
    return dict(found[0]) if found else None


def probe(app: AppProcess, value: str) -> httpx.Response:
    """A request that needs w01's session and changes nothing: window 1's queue is empty."""
    with app.client() as client:
        return client.post('/api/windows/1/call-next', headers=bearer(value))


def assert_valid(app: AppProcess, value: str) -> None:
    response = probe(app, value)
    assert (response.status_code, response.json()['code']) == (404, 'queue_empty'), response.text


def assert_refused(app: AppProcess, value: str) -> None:
    response = probe(app, value)
    assert (response.status_code, response.json()['code']) == (401, 'session_expired'), response.text


def watch_evil(page: Page, visits: list[str]) -> None:
    """Record (and stop) any request to evil.example, whatever the path or query."""

    def on_request(route: Route) -> None:
        visits.append(route.request.url)
        route.abort()

    page.context.route(lambda url: urlsplit(url).hostname == 'evil.example', on_request)


def no_xss(page: Page, opened_dialogs: list[str]) -> None:
    assert page.evaluate('window.__xss') is None
    assert opened_dialogs == []


# ---- the session cookie ---------------------------------------------------------------------------


def test_login_page_sets_a_strict_httponly_cookie_and_rotates_it(
    page: Page, login_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = login_hall
    login(page, app.base_url, W01, next_path='/?via=login')
    expect(page).to_have_url(f'{app.base_url}/?via=login')
    first = session_cookie(page.context)
    assert first is not None
    assert first['httpOnly'] is True and first['sameSite'] == 'Strict'
    assert first['secure'] is False and first['path'] == '/'  # plain http here; Secure under TLS
    assert len(first['value']) >= 43  # 256 bits
    assert SESSION_COOKIE not in page.evaluate('document.cookie')  # page scripts cannot read it
    assert_valid(app, first['value'])

    login(page, app.base_url, W01)  # again, from the same browser
    expect(page).to_have_url(f'{app.base_url}/')
    second = session_cookie(page.context)
    assert second is not None and second['value'] != first['value']
    assert second['httpOnly'] is True and second['sameSite'] == 'Strict'
    assert_refused(app, first['value'])  # the previous session was revoked server-side
    assert_valid(app, second['value'])
    mine = [row for row in session_rows(prepared.url) if row['username'] == 'w01']
    assert [row['revoked_at'] is None for row in mine[-2:]] == [False, True]


def _staff_page(prepared: PreparedDatabase) -> str | None:
    """A guarded page w01 may open (from the table in tests/security/routes.py), if one exists yet."""
    assert prepared.small_hall is not None
    rules = [rule for rule in PAGES if not rule.public and Role.STAFF in rule.roles]
    return rules[0].path(prepared.small_hall.window_1) if rules else None


def test_logout_revokes_the_session_and_the_old_cookie_is_refused(
    page: Page, login_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = login_hall
    guarded = _staff_page(prepared)
    login(page, app.base_url, W01, next_path=guarded or '/')
    expect(page).to_have_url(f'{app.base_url}{guarded or "/"}')  # the cookie opens a guarded page
    cookie = session_cookie(page.context)
    assert cookie is not None
    with app.client() as client:
        before = hall_state(client)
    logouts = len(audit_rows(prepared.url, 'logout'))

    response = page.request.post(f'{app.base_url}/auth/logout')  # the browser's own cookie jar
    assert response.ok and response.url.endswith('/login?reason=logged_out'), response.status
    assert session_cookie(page.context) is None
    assert len(audit_rows(prepared.url, 'logout')) == logouts + 1
    assert_refused(app, cookie['value'])
    if guarded:  # the open desk is ended by a push; let it land before navigating, or it cuts the next goto short
        expect(page).to_have_url(re.compile(r'/login\?.*reason=logged_out'), timeout=10_000)

    page.context.add_cookies([{'name': SESSION_COOKIE, 'value': cookie['value'], 'url': app.base_url}])
    if guarded:  # the old cookie, replayed on the page: back to the login
        page.goto(f'{app.base_url}{guarded}')
        expect(page).to_have_url(f'{app.base_url}/login?next={quote(guarded)}&reason=expired')
    replay = page.request.post(f'{app.base_url}/auth/logout')  # and on logout: nothing left to log out
    assert replay.ok
    assert len(audit_rows(prepared.url, 'logout')) == logouts + 1
    assert_refused(app, cookie['value'])
    page.goto(f'{app.base_url}/login?reason=logged_out')
    expect(page.get_by_text(re.compile('您已安全退出|You have logged out'))).to_be_visible()
    with app.client() as client:
        assert hall_state(client) == before


@pytest.mark.parametrize(
    'target',
    ['//evil.example', 'https://evil.example', '/\\evil.example', '//evil.example/%2F..', 'javascript:alert(1)'],
)
def test_login_never_redirects_off_site(
    page: Page, login_hall: tuple[AppProcess, PreparedDatabase], dialogs: list[str], target: str
) -> None:
    app, _ = login_hall
    evil: list[str] = []
    watch_evil(page, evil)
    login(page, app.base_url, W01, next_path=target)
    expect(page).to_have_url(f'{app.base_url}/')
    assert session_cookie(page.context) is not None
    assert evil == [] and dialogs == []


def test_a_control_character_in_next_stays_on_site(page: Page, login_hall: tuple[AppProcess, PreparedDatabase]) -> None:
    """Browsers drop tabs and newlines from URLs: '/\\t/evil.example' must not become '//evil.example'."""
    app, _ = login_hall
    evil: list[str] = []
    watch_evil(page, evil)
    login(page, app.base_url, W01, next_path='/\t/evil.example')
    page.wait_for_url(re.compile(re.escape(app.base_url) + r'/(?!login)'))
    assert urlsplit(page.url).netloc == urlsplit(app.base_url).netloc
    assert evil == []


# ---- injection and XSS on the login page ----------------------------------------------------------


def test_sql_in_the_login_form_is_refused_and_changes_nothing(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = live_hall
    before = db_state(prepared.url, ignore=('audit_entry', 'rate_counter'))
    for n, payload in enumerate(SQL):  # four failures: below the address lockout
        login(page, app.base_url, (payload, payload) if n % 2 else (payload, 'Wrong-pass-1'))
        expect(page.get_by_test_id('login-error')).to_contain_text(BAD_LOGIN)
        expect(page).to_have_url(re.compile(r'/login'))
    assert session_cookie(page.context) is None
    assert db_state(prepared.url, ignore=('audit_entry', 'rate_counter')) == before
    assert [row['outcome'] for row in audit_rows(prepared.url, 'login_failed')] == ['bad_credentials'] * len(SQL)


def test_xss_in_the_login_form_and_its_query_renders_inert(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase], dialogs: list[str]
) -> None:
    app, _ = live_hall
    for payload in XSS:  # three failures: below the address lockout
        page.goto(f'{app.base_url}/login?next={quote(payload, safe="")}&reason={quote(payload, safe="")}')
        username = page.get_by_test_id('login-username')
        username.fill(payload)
        page.get_by_test_id('login-password').fill('Wrong-pass-1')
        page.get_by_test_id('login-submit').click()
        expect(page.get_by_test_id('login-error')).to_contain_text(BAD_LOGIN)
        expect(username).to_have_value(payload)  # shown as text, never parsed
        no_xss(page, dialogs)
    assert session_cookie(page.context) is None


# ---- XSS in what staff and managers type ------------------------------------------------------------


def _plant(url: str, display_name: str) -> None:
    """A staff account with a script as display name, and hall, window and service names that are scripts."""

    async def add() -> None:
        db = Database(url)
        try:
            await add_user(
                db,
                username='xss01',
                role=Role.STAFF,
                password='Xss-user-01-pass',
                window_number=1,
                display_name=display_name,
            )
        finally:
            await db.dispose()

    run_coroutine(add)
    with closing(sqlite3.connect(sqlite_path(url))) as db, db:
        db.execute('UPDATE hall SET name = ?', (XSS[0],))
        db.execute('UPDATE "window" SET name = ? WHERE number = 4', (XSS[1],))
        db.execute("UPDATE service_item SET name = ? WHERE code = 'SVC-C'", (XSS[2],))


@pytest.fixture
def planted_hall(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    prepared = prepare_database(
        sqlite_url(tmp_path / 'hall.db'), users=[NewUser('boss2', 'Manager-02-pass', Role.MANAGER)]
    )
    _plant(prepared.url, DISPLAY_NAME)
    app = start_app(prepared.url, tmp_path)
    try:
        with app.client() as client:  # reasons typed by staff, through the API
            boss = bearer(token(client, ('boss2', 'Manager-02-pass')))
            for service in ('SVC-A', 'SVC-A', 'SVC-C'):
                assert client.post('/api/tickets', json={'service_code': service}).status_code == 201
            for step, body in (
                ('call-next', None),
                ('park', {'reason': XSS[0]}),
                ('call-next', None),
                ('transfer', {'service_code': 'SVC-B', 'reason': XSS[1]}),
                ('call', {'number': 'A002', 'reason': XSS[2]}),
            ):
                assert client.post(f'/api/windows/1/{step}', json=body, headers=boss).status_code == 200, step
        yield app, prepared
    finally:
        app.stop()


def test_xss_in_names_and_reasons_renders_as_text(
    page: Page, planted_hall: tuple[AppProcess, PreparedDatabase], dialogs: list[str]
) -> None:
    app, prepared = planted_hall
    desk = _staff_page(prepared)  # shows the logged-in staff member's display name
    login(page, app.base_url, ('xss01', 'Xss-user-01-pass'), next_path=desk or '/')  # display name: a script
    expect(page).to_have_url(f'{app.base_url}{desk or "/"}')
    if desk:
        expect(page.get_by_text(DISPLAY_NAME)).to_be_visible()
        no_xss(page, dialogs)
    page.goto(f'{app.base_url}/')
    expect(page.get_by_test_id('window-1-current')).to_have_text('A002')
    for payload in XSS:  # hall, window and service names: on the page, as text
        expect(page.get_by_text(payload, exact=True).first).to_be_visible()
    no_xss(page, dialogs)
    page.goto(f'{app.base_url}/login')
    expect(page.get_by_text(XSS[0], exact=True).first).to_be_visible()  # the hall name in the header
    no_xss(page, dialogs)


# ---- a NiceGUI client id copied into another browser ------------------------------------------------


async def _hijack(
    base_url: str, client_id: str, tab_id: str, other_cookies: str, ready: threading.Event, done: threading.Event
) -> dict[str, Any]:
    """Try every way into someone else's page: from a browser without cookies, and from another logged-in one."""
    socket_path = '/_nicegui_ws/socket.io'
    outcome: dict[str, Any] = {'events': []}
    query = f'client_id={client_id}&tab_id={tab_id}&document_id={uuid.uuid4()}&next_message_id=0'

    async def connect(sio: socketio.AsyncClient, query_string: str, cookies: str = '') -> str:
        headers = {'Cookie': cookies} if cookies else {}
        try:
            await sio.connect(
                f'{base_url}?{query_string}', socketio_path=socket_path, transports=['websocket'], headers=headers
            )
        except socketio.exceptions.ConnectionError as error:
            return f'refused: {error}'
        return 'connected'

    attempts = (
        ('implicit', f'{query}&implicit_handshake=true', ''),
        ('query', query, ''),
        ('other browser', f'{query}&implicit_handshake=true', other_cookies),
    )
    for name, query_string, cookies in attempts:
        sio = socketio.AsyncClient(reconnection=False)
        outcome[name] = await connect(sio, query_string, cookies)
        await sio.disconnect()

    sio = socketio.AsyncClient(reconnection=False)

    @sio.on('*')
    async def anything(event: str, *args: Any) -> None:
        outcome['events'].append(event)

    outcome['bare'] = await connect(sio, '')
    if sio.connected:
        data = {'client_id': client_id, 'tab_id': tab_id, 'document_id': str(uuid.uuid4()), 'next_message_id': 0}
        outcome['handshake'] = await sio.call('handshake', data, timeout=20)
    ready.set()
    await asyncio.to_thread(done.wait, 60)  # stay connected while the real page receives an update
    await sio.disconnect()
    return outcome


def _other_browser(app: AppProcess) -> str:
    """The cookies of another browser where someone else is logged in: its own NiceGUI session and staff cookie."""
    with app.client() as client:
        assert client.get('/').status_code == 200
        nicegui_session = client.cookies['session']
        value = token_body(client, 'boss', 'Manager-01-pass')
    return f'session={nicegui_session}; {SESSION_COOKIE}={value.json()["access_token"]}'


def test_a_copied_client_id_is_refused_and_the_page_keeps_working(
    page: Page, live_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, _ = live_hall
    login(page, app.base_url, W01)  # the victim is a logged-in member of staff
    expect(page).to_have_url(f'{app.base_url}/')
    page.wait_for_function('window.did_handshake === true && window.socket.connected')
    client_id = page.evaluate('window.clientId')
    tab_id = page.evaluate('sessionStorage.__nicegui_tab_id')
    assert client_id and tab_id
    other_cookies = _other_browser(app)

    ready, done = threading.Event(), threading.Event()
    result: dict[str, Any] = {}

    def attacker() -> None:
        try:
            result.update(asyncio.run(_hijack(app.base_url, client_id, tab_id, other_cookies, ready, done)))
        except Exception as error:  # reported below, not lost in the thread
            result['error'] = repr(error)
            ready.set()

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    try:
        assert ready.wait(60), 'the attacker did not finish its attempts'
        assert 'error' not in result, result
        taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A'})
        assert taken.status_code == 201
        expect(page.get_by_test_id('queue-SVC-A-waiting')).to_have_text('1')  # the real page is still live
    finally:
        done.set()
        thread.join(60)
    for attempt in ('implicit', 'query', 'other browser'):
        assert result[attempt].startswith('refused'), result
    assert result['bare'] == 'connected' and result['handshake'] is False, result
    assert result['events'] == [], result  # nothing of the page reached the other browser
    assert page.evaluate('window.socket.connected') is True
