"""Kiosk screens are paired devices, attacked over HTTP and socket.io against the running app.

The app runs behind a "reverse proxy" here (TRUSTED_PROXIES=127.0.0.1), so each test speaks from its own
client address through X-Forwarded-For and the per-address guessing limit of one test never blocks another.
Device events in a real browser (a card read reaching only its paired screen) and a revoked screen closing:
e2e/test_kiosk_pairing.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
import socketio

from app.db import Database
from app.models.people import Role
from app.services.kiosk_pairing import PAIRING_GUESSES
from tests.apphost import AppProcess, NewUser, PreparedDatabase, prepare_database, run_coroutine, sqlite_url, start_app
from tests.conftest import audited
from tests.kiosk_hall import BARE_KIOSK, KIOSK, add_kiosk_hall
from tests.kioskpairing import issue_code
from tests.security.routes import ACCOUNTS, audit_rows, bearer, sqlite_path, token

KIOSK_COOKIE = 'ht_kiosk'
SOCKET_PATH = '/_nicegui_ws/socket.io'
ADMIN = ACCOUNTS[Role.ADMIN]


@pytest.fixture(scope='module')
def kiosk_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The small hall with kiosks K01 (reader, scanner, camera, printer) and K02, an admin, behind a 'proxy'."""
    tmp: Path = tmp_path_factory.mktemp('kiosk-pairing')
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'), users=[NewUser(*ADMIN, role=Role.ADMIN)])
    assert prepared.small_hall is not None
    hall_id = prepared.small_hall.hall_id

    async def kiosks() -> None:
        db = Database(prepared.url)
        try:
            await add_kiosk_hall(db, hall_id)
        finally:
            await db.dispose()

    run_coroutine(kiosks)
    app = start_app(prepared.url, tmp, {'TRUSTED_PROXIES': '127.0.0.1'})
    try:
        yield app, prepared
    finally:
        app.stop()


def from_address(address: str) -> dict[str, str]:
    """What our reverse proxy adds: the client's address, last in X-Forwarded-For."""
    return {'x-forwarded-for': address}


def pairing_state(url: str) -> dict[str, Any]:
    """Everything a refused pairing must leave alone."""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return {
            'codes': db.execute('SELECT id, expires_at, used_at FROM kiosk_pairing_code ORDER BY id').fetchall(),
            'screens': db.execute(
                'SELECT id, token_hash, revoked_at FROM kiosk_screen_credential ORDER BY id'
            ).fetchall(),
        }


def pair(client: httpx.Client, url: str, device: str, address: str, **headers: str) -> httpx.Response:
    code = issue_code(url, device)
    return client.post(
        '/kiosk/pair', data={'device': device, 'code': code}, headers={**from_address(address), **headers}
    )


def refused_page(response: httpx.Response, status: int) -> str:
    """The plain pairing page: no NiceGUI client, nothing that could open a socket."""
    assert response.status_code == status, response.text[:300]
    assert response.headers['content-type'].startswith('text/html')
    assert response.headers['cache-control'] == 'no-store'
    assert response.headers['x-frame-options'] == 'DENY'  # the hall's security headers still apply
    page = response.text
    assert '本屏幕不是已登记的自助取号机' in page and 'data-testid="kiosk-pair-code"' in page
    for trace in ('client_id', 'socket.io', '/_nicegui', '<script'):
        assert trace not in page, trace
    return page


# ---- an unpaired browser -------------------------------------------------------------------------


def test_an_unpaired_or_foreign_credential_gets_only_the_pairing_page(
    kiosk_app: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = kiosk_app
    with app.client() as k02:
        other = pair(k02, prepared.url, BARE_KIOSK, '10.1.0.1')
        assert other.status_code == 303
        k02_credential = other.cookies[KIOSK_COOKIE]
    before = pairing_state(prepared.url)
    forged = [
        '',
        secrets.token_urlsafe(32),
        k02_credential,  # a real credential, of another kiosk
        k02_credential[:-1],
        hashlib.sha256(k02_credential.encode()).hexdigest(),  # what is stored of it
        "' OR 1=1 --",
        'x' * 4000,
    ]
    for value in forged:
        with app.client(cookies={KIOSK_COOKIE: value} if value else None) as client:
            refused_page(client.get(f'/kiosk/{KIOSK}', headers=from_address('10.1.0.2')), 403)
    with app.client(cookies={KIOSK_COOKIE: k02_credential}) as k02:
        assert 'client_id' in k02.get(f'/kiosk/{BARE_KIOSK}').text  # the positive control: its own kiosk opens
    assert pairing_state(prepared.url) == before


def test_the_credential_is_an_httponly_strict_long_lived_cookie_secure_under_tls(
    kiosk_app: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = kiosk_app
    with app.client() as client:
        plain = pair(client, prepared.url, KIOSK, '10.2.0.1')
        tls = pair(client, prepared.url, KIOSK, '10.2.0.1', **{'x-forwarded-proto': 'https'})
    for response, secure in ((plain, False), (tls, True)):
        assert response.status_code == 303 and response.headers['location'] == f'/kiosk/{KIOSK}'
        (header,) = [h for h in response.headers.get_list('set-cookie') if h.startswith(f'{KIOSK_COOKIE}=')]
        cookie = SimpleCookie()
        cookie.load(header)
        morsel = cookie[KIOSK_COOKIE]
        assert len(morsel.value) >= 43  # 256 bits
        assert morsel['httponly'] is True and morsel['samesite'] == 'strict' and morsel['path'] == '/'
        assert int(morsel['max-age']) >= 365 * 24 * 3600
        assert bool(morsel['secure']) is secure
    screens = pairing_state(prepared.url)['screens']
    assert [revoked is None for _, _, revoked in screens[-2:]] == [False, True]  # pairing again replaced the first


# ---- guessing -------------------------------------------------------------------------------------


def test_brute_forcing_pairing_codes_is_refused_with_429_and_never_pairs(
    kiosk_app: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = kiosk_app
    real = issue_code(prepared.url, KIOSK)
    before = pairing_state(prepared.url)
    bodies = set()
    with app.client(headers=from_address('10.3.0.66')) as attacker:
        for n in range(PAIRING_GUESSES.max):
            guess = f'{n:08d}'.translate(str.maketrans('0123456789', 'ABCDEFGHJK'))
            refused = attacker.post('/kiosk/pair', data={'device': KIOSK, 'code': guess})
            bodies.add(refused_page(refused, 401))
            assert KIOSK_COOKIE not in refused.headers.get('set-cookie', '')
        assert len(bodies) == 1  # one refusal, whatever was guessed
        for code in (real, 'ABCD-EFGH'):  # held back, even with the right code
            limited = attacker.post('/kiosk/pair', data={'device': KIOSK, 'code': code})
            refused_page(limited, 429)
            assert 0 < int(limited.headers['retry-after']) <= PAIRING_GUESSES.window.total_seconds()
            assert '配对码尝试次数过多' in limited.text
        for spoofed in ('10.3.0.67', '198.51.100.1'):  # a forged X-Forwarded-For in front of the proxy's own entry
            faked = attacker.post(
                '/kiosk/pair', data={'device': KIOSK, 'code': real}, headers=from_address(f'{spoofed}, 10.3.0.66')
            )
            assert faked.status_code == 429
        assert attacker.cookies.get(KIOSK_COOKIE) is None
    assert pairing_state(prepared.url) == before  # never paired, the real code still unused
    refusals = audit_rows(prepared.url, 'kiosk_pairing_refused')
    assert sum(row['client_address'] == audited('10.3.0.66') for row in refusals) == PAIRING_GUESSES.max
    with app.client() as kiosk:  # the kiosk itself, elsewhere, is not held back
        ok = kiosk.post('/kiosk/pair', data={'device': KIOSK, 'code': real}, headers=from_address('10.3.0.1'))
        assert ok.status_code == 303


@pytest.mark.parametrize(
    'headers',
    [
        {'origin': 'http://evil.example'},
        {'origin': 'null'},  # a page with no-referrer on another site
        {'sec-fetch-site': 'cross-site'},
        {'sec-fetch-site': 'same-site', 'origin': 'http://127.0.0.1:1'},
    ],
    ids=['foreign origin', 'null origin', 'cross-site fetch', 'another port'],
)
def test_a_pairing_form_posted_from_another_site_is_refused(
    kiosk_app: tuple[AppProcess, PreparedDatabase], headers: dict[str, str]
) -> None:
    app, prepared = kiosk_app
    code = issue_code(prepared.url, BARE_KIOSK)
    before = pairing_state(prepared.url)
    with app.client() as victim:
        response = victim.post(
            '/kiosk/pair', data={'device': BARE_KIOSK, 'code': code}, headers={**from_address('10.4.0.1'), **headers}
        )
    assert '来自其他网站' in refused_page(response, 403)
    assert pairing_state(prepared.url) == before
    with app.client() as kiosk:  # the code was not spent on the forged post
        ok = kiosk.post(
            '/kiosk/pair',
            data={'device': BARE_KIOSK, 'code': code},
            headers={**from_address('10.4.0.2'), 'origin': app.base_url, 'sec-fetch-site': 'same-origin'},
        )
        assert ok.status_code == 303


def test_a_huge_pairing_form_is_refused_before_it_is_read(kiosk_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = kiosk_app
    before = pairing_state(prepared.url)
    with app.client() as client:
        response = client.post('/kiosk/pair', data={'device': KIOSK, 'code': 'A' * 200_000})
    assert response.status_code == 413 and response.json()['code'] == 'body_too_large'
    assert pairing_state(prepared.url) == before


# ---- only admins issue codes ----------------------------------------------------------------------


def test_a_non_admin_cannot_open_the_code_issuing_page(kiosk_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = kiosk_app
    before = pairing_state(prepared.url)
    with app.client() as client:
        anonymous = client.get('/admin')
        assert anonymous.status_code == 303 and anonymous.headers['location'] == '/login?next=/admin'
        denied = len(audit_rows(prepared.url, 'role_denied'))
        for who in (ACCOUNTS[Role.STAFF], ACCOUNTS[Role.MANAGER]):
            with app.client(cookies={'ht_session': token(client, who)}) as staff:
                refused = staff.get('/admin')
            assert refused.status_code == 403 and '无权访问' in refused.text
        admin = token(client, ADMIN)
        with app.client(cookies={'ht_session': admin}) as allowed:
            assert allowed.get('/admin').status_code == 200  # the positive control
        assert client.post('/api/auth/logout', headers=bearer(admin)).status_code == 204
    assert len(audit_rows(prepared.url, 'role_denied')) == denied + 2
    assert pairing_state(prepared.url) == before


# ---- a copied NiceGUI client id ---------------------------------------------------------------------


async def _socket(base_url: str, client_id: str, cookies: str) -> str:
    """Take over the page with this client id through the implicit handshake; 'connected' or 'refused: ...'."""
    query = f'client_id={client_id}&tab_id={uuid.uuid4()}&document_id={uuid.uuid4()}&next_message_id=0'
    sio = socketio.AsyncClient(reconnection=False)
    headers = {'Origin': base_url, **({'Cookie': cookies} if cookies else {})}
    try:
        await sio.connect(
            f'{base_url}?{query}&implicit_handshake=true',
            socketio_path=SOCKET_PATH,
            transports=['websocket'],
            headers=headers,
            wait_timeout=20,
        )
    except socketio.exceptions.ConnectionError as error:
        return f'refused: {error}'
    await sio.disconnect()
    return 'connected'


def _cookie_header(client: httpx.Client) -> str:
    return '; '.join(f'{name}={value}' for name, value in client.cookies.items())


def test_a_copied_kiosk_client_id_is_refused(kiosk_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = kiosk_app
    with app.client() as kiosk, app.client() as other_kiosk, app.client() as stranger:
        assert pair(kiosk, prepared.url, KIOSK, '10.5.0.1').status_code == 303
        assert pair(other_kiosk, prepared.url, BARE_KIOSK, '10.5.0.2').status_code == 303
        pages = []
        for _ in range(2):
            page = kiosk.get(f'/kiosk/{KIOSK}')
            match = re.search(r"'client_id': '([0-9a-f-]+)'", page.text)
            assert page.status_code == 200 and match, page.text[:300]
            pages.append(match.group(1))
        other_kiosk.get(f'/kiosk/{BARE_KIOSK}')  # its own NiceGUI browser session
        stranger.get('/')  # a browser with a NiceGUI session and no kiosk cookie
        victim, control = pages
        attempts = {
            'no cookies': asyncio.run(_socket(app.base_url, victim, '')),
            'a browser without the kiosk cookie': asyncio.run(_socket(app.base_url, victim, _cookie_header(stranger))),
            'another kiosk': asyncio.run(_socket(app.base_url, victim, _cookie_header(other_kiosk))),
            'its session without the kiosk cookie': asyncio.run(
                _socket(app.base_url, victim, f'session={kiosk.cookies["session"]}')
            ),
        }
        own = asyncio.run(_socket(app.base_url, control, _cookie_header(kiosk)))  # the positive control
    for name, outcome in attempts.items():
        assert outcome.startswith('refused'), (name, outcome)
    assert own == 'connected'
