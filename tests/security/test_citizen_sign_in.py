"""Citizen sign-in by phone, attacked over real HTTP and the page's socket against the running app.

The attacker guesses codes, replays a used one, forges and reuses tokens, carries a citizen's token to staff
routes and a clerk's to citizen routes, points `next=` at another site, and tries to plant or read the
session cookie. The phone's texts are the app's SMS outbox file (var/sms-outbox.jsonl).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from app.api.citizen import CITIZEN_COOKIE, citizen_next
from app.api.web_session import SESSION_COOKIE
from app.security.crypto import FieldCipher
from app.services.citizen_accounts import GUESSES_PER_PHONE
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, running_app
from tests.citizen_login import citizen_token, code_from_outbox, outbox_lines
from tests.security.browser import UiSocket, open_page
from tests.security.routes import assert_error, bearer, sqlite_path, token
from tests.test_device_names import IPHONE_WECHAT

BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """One app behind a (pretend) reverse proxy on 127.0.0.1, so each test can be another client address."""
    with running_app(tmp_path_factory.mktemp('citizen-sign-in'), extra_env={'TRUSTED_PROXIES': '127.0.0.1'}) as hall:
        yield hall


def outbox(app: AppProcess) -> Path:
    return app.tmp_dir / 'var' / 'sms-outbox.jsonl'


def from_address(address: str) -> dict[str, str]:
    return {'x-forwarded-for': address}


def accounts_of(url: str, phone: str) -> list[tuple[int, ...]]:
    lookup = FieldCipher({'k1': TEST_SECRET.encode()}, 'k1').lookup(phone)
    with closing(sqlite3.connect(sqlite_path(url))) as db:
        return list(db.execute('SELECT id FROM citizen_account WHERE phone_hash = ?', (lookup,)))


async def test_guessing_a_code_locks_the_phone_and_the_right_code_is_refused_while_locked(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    phone = '13811110001'
    with app.client() as client:
        after = outbox_lines(outbox(app))
        asked = client.post('/api/citizen/code', json={'phone': phone}, headers=from_address('198.51.100.1'))
        assert asked.status_code == 202 and asked.json() == {'expires_in': 300}, asked.text
        right = await code_from_outbox(outbox(app), after)
        wrong = f'{(int(right) + 1) % 1_000_000:06d}'
        for n in range(GUESSES_PER_PHONE.max):  # spread over addresses: the phone's own count locks it
            guess = client.post(
                '/api/citizen/session',
                json={'phone': phone, 'code': wrong},
                headers=from_address(f'198.51.100.{n + 10}'),
            )
            assert_error(guess, 401, 'wrong_sms_code')
        locked = client.post(
            '/api/citizen/session', json={'phone': phone, 'code': right}, headers=from_address('198.51.100.99')
        )
        assert_error(locked, 429, 'sign_in_locked')
        assert int(locked.headers['retry-after']) > 0
    assert not accounts_of(prepared.url, phone)  # nothing was made for the phone


async def test_a_code_signs_in_once_and_a_replay_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    phone = '13811110002'
    with app.client(headers=from_address('198.51.100.2')) as client:
        after = outbox_lines(outbox(app))
        assert client.post('/api/citizen/code', json={'phone': phone}).status_code == 202
        code = await code_from_outbox(outbox(app), after)
        first = client.post('/api/citizen/session', json={'phone': phone, 'code': code})
        assert first.status_code == 200, first.text
        assert first.json()['access_token'].startswith('c.') and first.json()['expires_at']
        assert_error(client.post('/api/citizen/session', json={'phone': phone, 'code': code}), 401, 'wrong_sms_code')


async def test_asking_for_a_code_says_nothing_about_whether_the_phone_has_an_account(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    with app.client(headers=from_address('198.51.100.3')) as client:
        await citizen_token(client, '13811110003', outbox(app))
        known = client.post('/api/citizen/code', json={'phone': '13811110003'})
        unknown = client.post('/api/citizen/code', json={'phone': '13811110004'})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {'expires_in': 300})


async def test_forged_and_signed_out_citizen_tokens_are_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    with app.client(headers=from_address('198.51.100.4')) as client:
        mine = await citizen_token(client, '13811110005', outbox(app))
        forged = 'c.' + 'A' * 43
        assert_error(client.delete('/api/citizen/session', headers=bearer(forged)), 401, 'not_authenticated')
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=bearer(forged))
        assert_error(taken, 401, 'not_authenticated')
        assert client.delete('/api/citizen/session', headers=bearer(mine)).status_code == 204
        assert_error(client.delete('/api/citizen/session', headers=bearer(mine)), 401, 'session_expired')
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=bearer(mine))
        assert_error(taken, 401, 'session_expired')
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db:
        actions = [row[0] for row in db.execute("SELECT action FROM audit_entry WHERE action LIKE 'citizen_%'")]
        stored = ' '.join(str(value) for row in db.execute('SELECT * FROM citizen_session') for value in row)
    assert 'citizen_sign_in' in actions and 'citizen_sign_out' in actions
    assert mine not in stored and mine[2:] not in stored  # only the token's hash is kept


async def test_a_sign_in_keeps_the_devices_short_name_and_never_its_user_agent(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    with app.client(headers={**from_address('198.51.100.6'), 'user-agent': IPHONE_WECHAT}) as client:
        mine = await citizen_token(client, '13811110006', outbox(app))
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db:
        db.row_factory = sqlite3.Row
        newest = dict(db.execute('SELECT * FROM citizen_session ORDER BY id DESC LIMIT 1').fetchone())
    assert newest['device'] == 'iPhone · WeChat'
    stored = ' '.join(str(value) for value in newest.values())
    assert 'MicroMessenger' not in stored and 'Mozilla' not in stored and mine not in stored


async def test_a_citizen_token_gets_no_staff_route_and_a_staff_token_is_no_citizen(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    assert prepared.small_hall is not None
    window = prepared.small_hall.window_1
    with app.client(headers=from_address('198.51.100.5')) as client:
        citizen = await citizen_token(client, '13811110006', outbox(app))
        for method, path in (('POST', f'/api/windows/{window}/call-next'), ('GET', '/api/ops/counters')):
            refused = client.request(method, path, headers=bearer(citizen))
            assert_error(refused, 401, 'not_authenticated')
        clerk = token(client, BOSS)
        assert_error(client.delete('/api/citizen/session', headers=bearer(clerk)), 401, 'citizen_sign_in_required')
    with app.client(cookies={SESSION_COOKIE: citizen}) as browser:  # a citizen's token as a staff cookie
        page = browser.get('/manager')
        assert page.status_code == 303 and page.headers['location'].startswith('/login')
    with app.client(cookies={CITIZEN_COOKIE: clerk}) as browser:  # a clerk's token as a citizen cookie
        page = browser.get('/me/login')
        assert page.status_code == 200 and 'citizen-phone' in page.text  # asked to sign in, not signed in


async def sign_in_on_the_page(app: AppProcess, phone: str, next_path: str) -> tuple[str, dict[str, str]]:
    """What a phone's browser does on /me/login: the hand-over URL the page sends it to, and its cookies."""
    page = await open_page(app.base_url, f'/me/login?next={quote(next_path)}')
    async with UiSocket(page) as socket:
        await socket.emit('event', page.event('citizen-phone', 'update:value', phone))
        after = outbox_lines(outbox(app))
        await socket.emit('event', page.event('citizen-send-code', 'click'))
        code = await code_from_outbox(outbox(app), after)
        await socket.emit('event', page.event('citizen-code', 'update:value', code))
        await socket.emit('event', page.event('citizen-sign-in', 'click'))
        opened = await socket.until('open')
    target = str(opened['path'] if isinstance(opened, dict) else opened)
    assert target.startswith('/me/complete?code=') and 'c.' not in target, target  # never the token in a URL
    return target, page.cookies


@pytest.mark.parametrize(
    ('next_path', 'lands', 'phone'),
    [
        ('/guide', '/guide', '13811110010'),
        ('https://evil.example/', '/me', '13811110011'),
        ('//evil.example', '/me', '13811110012'),
    ],
)
async def test_the_page_sets_an_httponly_cookie_in_its_own_browser_and_goes_only_to_local_paths(
    live: tuple[AppProcess, PreparedDatabase], next_path: str, lands: str, phone: str
) -> None:
    app, _ = live
    target, cookies = await sign_in_on_the_page(app, phone, next_path)
    async with httpx.AsyncClient(base_url=app.base_url, headers=from_address('198.51.100.6')) as stranger:
        elsewhere = await stranger.get(target)  # the link opened in another browser: refused and burnt
    assert elsewhere.status_code == 303 and elsewhere.headers['location'].startswith('/me/login')
    assert CITIZEN_COOKIE not in elsewhere.cookies
    target, cookies = await sign_in_on_the_page(app, phone, next_path)
    async with httpx.AsyncClient(base_url=app.base_url, cookies=cookies) as browser:
        done = await browser.get(target)
        again = await browser.get(target)
    assert done.status_code == 303 and done.headers['location'] == lands
    cookie = done.headers['set-cookie']
    assert cookie.startswith(f'{CITIZEN_COOKIE}=c.') and 'HttpOnly' in cookie and 'samesite=lax' in cookie.lower()
    assert again.headers['location'].startswith('/me/login')  # the hand-over code works once


@pytest.mark.parametrize(
    'target',
    ['https://evil.example', '//evil.example', '/\\evil.example', '/\t/evil.example', '\n/evil', '', 'me', '/'],
)
def test_next_never_leaves_the_site(target: str) -> None:
    assert citizen_next(target) == '/me'


async def test_signing_out_in_the_browser_ends_the_session(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client(headers=from_address('198.51.100.7')) as client:
        mine = await citizen_token(client, '13811110008', outbox(app))
    with app.client(cookies={CITIZEN_COOKIE: mine}) as browser:
        assert browser.get('/me/login').status_code == 303  # signed in: sent on
        asked = browser.get('/me/logout')  # a link (or an image on another site) only shows the button
        assert asked.status_code == 200 and 'method="post"' in asked.text
        assert browser.get('/me/login').status_code == 303  # still signed in
        out = browser.post('/me/logout')
        assert out.status_code == 303 and 'logged_out' in out.headers['location']
        assert f'{CITIZEN_COOKIE}=""' in out.headers['set-cookie'] or 'Max-Age=0' in out.headers['set-cookie']
    with app.client() as client:
        assert_error(client.delete('/api/citizen/session', headers=bearer(mine)), 401, 'session_expired')


async def test_the_phone_is_stored_nowhere_in_clear(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    phone = '13811110009'
    with app.client(headers=from_address('198.51.100.8')) as client:
        await citizen_token(client, phone, outbox(app))
    assert accounts_of(prepared.url, phone)
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        text = ' '.join(str(value) for name in tables for row in db.execute(f'SELECT * FROM "{name}"') for value in row)
    assert phone not in text and phone not in outbox(app).read_text(encoding='utf-8')
