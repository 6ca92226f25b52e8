"""Hardening over HTTP against the real app: security headers, socket.io origins, and forged codes.

A copied NiceGUI client id needs a real page in a browser: see e2e/test_security.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator

import pytest
import websockets
from nicegui import __version__ as nicegui_version

from app.security import codes
from app.security.headers import CSP
from app.services.errors import Invalid
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.routes import assert_error, db_state, settled_state, token

SOCKET_PATH = '/_nicegui_ws/socket.io/'  # nicegui.nicegui: app.mount('/_nicegui_ws/', socketio_path='/socket.io')
POLLING = {'EIO': '4', 'transport': 'polling'}


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('hardening')) as (app, prepared):
        yield app, prepared


# ---- headers --------------------------------------------------------------------------------------

PATHS = [
    '/',
    '/login',
    '/api/hall',
    '/docs',
    '/openapi.json',
    '/api/tickets/no-such-code',  # an API error
    '/no-such-page',  # NiceGUI's 404 page
    f'/_nicegui/{nicegui_version}/static/socket.io.min.js',  # NiceGUI's static files
]


def _csp(header: str) -> dict[str, str]:
    directives = (part.strip().split(' ', 1) for part in header.split(';') if part.strip())
    return {d[0]: d[1] if len(d) > 1 else '' for d in directives}


@pytest.mark.parametrize('path', PATHS)
def test_every_response_carries_the_security_headers(live: tuple[AppProcess, PreparedDatabase], path: str) -> None:
    app, _ = live
    with app.client() as client:
        response = client.get(path)
    assert response.status_code < 500, response.text[:300]
    headers = response.headers
    csp = _csp(headers['content-security-policy'])
    assert csp['frame-ancestors'] == "'none'"
    assert csp['default-src'] == "'self'" and csp['object-src'] == "'none'" and csp['base-uri'] == "'self'"
    assert headers['x-content-type-options'] == 'nosniff'
    assert headers['referrer-policy'] in ('no-referrer', 'same-origin', 'strict-origin-when-cross-origin')
    assert headers['x-frame-options'] == 'DENY'
    assert 'strict-transport-security' not in headers  # plain http: HSTS would be ignored or pin a mistake


def test_the_socket_handshake_carries_the_headers_too(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client() as client:
        response = client.get(SOCKET_PATH, params=POLLING, headers={'Origin': app.base_url})
    assert response.status_code == 200
    assert response.headers['x-content-type-options'] == 'nosniff'
    assert response.headers['x-frame-options'] == 'DENY'


@pytest.mark.parametrize('path', ['/', '/api/hall', '/login'])
def test_hsts_only_when_served_over_tls(live: tuple[AppProcess, PreparedDatabase], path: str) -> None:
    app, _ = live
    with app.client() as client:
        tls = client.get(path, headers={'X-Forwarded-Proto': 'https'})
        plain = client.get(path, headers={'X-Forwarded-Proto': 'http'})
    hsts = tls.headers['strict-transport-security']
    assert int(hsts.split('max-age=')[1].split(';')[0]) >= 180 * 24 * 3600
    assert 'strict-transport-security' not in plain.headers


def test_csp_allows_only_our_own_origin_for_scripts_and_connections() -> None:
    csp = _csp(CSP)
    for directive in ('script-src', 'style-src', 'img-src', 'connect-src', 'font-src'):
        sources = csp[directive].split()
        assert "'self'" in sources, directive
        assert not [s for s in sources if s == '*' or s.startswith(('http:', 'https:')) or '.' in s], directive
    assert csp['form-action'] == "'self'"


# ---- socket.io origins ----------------------------------------------------------------------------


def test_socket_polling_handshake_from_a_foreign_origin_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    port = app.port
    before = db_state(prepared.url)
    with app.client() as client:
        for origin in (
            'http://evil.example',
            'null',
            f'http://127.0.0.1:{port}.evil.example',
            f'http://127.0.0.1:{port + 1}',
            f'https://127.0.0.1:{port}',
        ):
            refused = client.get(SOCKET_PATH, params=POLLING, headers={'Origin': origin})
            assert refused.status_code == 400, origin
            assert 'not an accepted origin' in refused.text and '"sid"' not in refused.text, origin
            assert 'access-control-allow-origin' not in refused.headers
        for origin in (app.base_url, f'http://localhost:{port}'):
            accepted = client.get(SOCKET_PATH, params=POLLING, headers={'Origin': origin})
            assert accepted.status_code == 200, origin
            opened = json.loads(accepted.text[1:])  # engine.io OPEN packet: '0{...}'
            assert accepted.text[0] == '0' and len(opened['sid']) >= 16
    assert db_state(prepared.url) == before


async def _websocket_first_message(base_url: str, origin: str) -> str:
    url = base_url.replace('http://', 'ws://') + SOCKET_PATH + '?EIO=4&transport=websocket'
    async with websockets.connect(url, origin=origin, open_timeout=20) as socket:
        return str(await asyncio.wait_for(socket.recv(), 20))


async def test_socket_websocket_from_a_foreign_origin_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with pytest.raises(websockets.InvalidStatus) as refused:
        await _websocket_first_message(app.base_url, 'http://evil.example')
    assert refused.value.response.status_code == 403
    opened = await _websocket_first_message(app.base_url, app.base_url)
    assert opened.startswith('0{') and '"sid"' in opened


# ---- signed and unguessable codes -----------------------------------------------------------------

SECRET = b'test-secret-key-that-is-long-enough-0123456789'


def _alter(text: str, index: int) -> str:
    swapped = 'B' if text[index] == 'A' else 'A'
    return text[:index] + swapped + text[index + 1 :]


def test_a_signed_code_round_trips_and_is_ascii() -> None:
    payload = codes.sign(SECRET, 'appt', 'R20261128A1')
    assert payload.isascii() and payload.startswith('HT1.appt.R20261128A1.')
    assert codes.verify(SECRET, 'appt', payload) == 'R20261128A1'
    assert codes.verify(SECRET, 'appt', f'  {payload}\n') == 'R20261128A1'  # scanners add whitespace


def _forgeries() -> list[tuple[str, str]]:
    good = codes.sign(SECRET, 'appt', 'R20261128A1')
    prefix, kind, value, signature = good.split('.')
    return [
        ('altered signature', _alter(good, len(good) - 1)),
        ('signature of another value', f'{prefix}.{kind}.R20261128A2.{signature}'),
        ('wrong kind', codes.sign(SECRET, 'track', value)),
        ('another secret', codes.sign(b'another-secret-of-the-same-length-0123456789', 'appt', value)),
        ('non-ASCII value', f'{prefix}.{kind}.预约R2026.{signature}'),
        ('full-width digits', f'{prefix}.{kind}.R２０２６.{signature}'),
        ('too long', f'{prefix}.{kind}.{"A" * 65}.{signature}'),
        ('a huge payload', 'HT1.appt.' + 'A' * 100_000),
        ('extra part', f'{good}.x'),
        ('missing signature', f'{prefix}.{kind}.{value}'),
        ('other version', f'HT2.{kind}.{value}.{signature}'),
        ('empty', ''),
        ('sql', "' OR 1=1 --"),
    ]


@pytest.mark.parametrize(('case', 'payload'), _forgeries(), ids=[case for case, _ in _forgeries()])
def test_forged_codes_are_refused_clearly(case: str, payload: str) -> None:
    with pytest.raises(Invalid) as refused:
        codes.verify(SECRET, 'appt', payload)
    assert refused.value.code == 'forged_code' and refused.value.status == 422
    assert '/' in refused.value.message  # zh-CN and English


def test_a_value_with_a_trailing_newline_is_not_a_short_ascii_token() -> None:
    with pytest.raises(ValueError):
        codes.sign(SECRET, 'appt', 'REF\n')


def test_tracking_codes_are_unguessable_ascii() -> None:
    issued = {codes.tracking_code() for _ in range(1000)}
    assert len(issued) == 1000
    for code in issued:
        assert code.isascii() and len(code) * 6 >= 80  # base64url: 6 bits a character


def test_a_random_or_altered_tracking_code_reveals_nothing(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    with app.client() as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'}).json()
        real = taken['code']
        assert client.get(f'/api/tickets/{real}').status_code == 200
        before = settled_state(prepared.url, ignore=('rate_counter',))
        bodies = []
        for guess in (secrets.token_urlsafe(15), _alter(real, 0), real.upper(), real[:-1], f'{real}x', 'x' * 2000):
            refused = assert_error(client.get(f'/api/tickets/{guess}'), 403, 'tracking_refused')
            assert set(refused) == {'code', 'message'} and guess not in refused['message']
            bodies.append(refused)
        assert all(body == bodies[0] for body in bodies)  # the same answer whatever was guessed
        assert db_state(prepared.url, ignore=('rate_counter',)) == before


def test_a_forged_appointment_qr_takes_no_number(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    forged = _alter(codes.sign(SECRET, 'appt', 'R20261128A1'), -1)
    with app.client() as client:
        desk = {'Authorization': f'Bearer {token(client, ("boss", "Manager-01-pass"))}'}
        before = db_state(prepared.url, ignore=('audit_entry',))
        response = client.post('/api/tickets', json={'service_code': 'SVC-A', 'appointment_code': forged}, headers=desk)
        assert_error(response, 422, 'forged_code')  # even from a clerk: the signature decides
        assert db_state(prepared.url, ignore=('audit_entry',)) == before
