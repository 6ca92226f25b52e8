"""The window rating pad `/rate/{window}` is a paired screen, attacked over HTTP against the running app.

What the pad may rate is decided by the service (tests/test_rating_pad.py: another window's ticket, an older
ticket, a ticket past its time, a second tap); the browser never names a ticket, it only taps a level.
Here: no screen without a live credential for THIS window's pad, and nothing leaks to one that has none.
The one-tap journey in a real browser: e2e/test_rating_pad.py.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.db import Database
from app.models.people import Role
from tests.apphost import AppProcess, NewUser, PreparedDatabase, prepare_database, run_coroutine, sqlite_url, start_app
from tests.kiosk_hall import BARE_KIOSK, add_kiosk_hall
from tests.kioskpairing import issue_code
from tests.ratingpads import add_pad
from tests.security.routes import ACCOUNTS, audit_rows

COOKIE = 'ht_kiosk'
ADMIN = ACCOUNTS[Role.ADMIN]
PAD_1, PAD_4 = 'RP-W01', 'RP-W04'


@pytest.fixture(scope='module')
def pad_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The small hall with rating pads at windows 1 and 4, and a kiosk, behind a 'proxy'."""
    tmp: Path = tmp_path_factory.mktemp('rating-pad')
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'), users=[NewUser(*ADMIN, role=Role.ADMIN)])
    assert prepared.small_hall is not None
    hall_id = prepared.small_hall.hall_id

    async def pads() -> None:
        db = Database(prepared.url)
        try:
            await add_kiosk_hall(db, hall_id)
            await add_pad(db, hall_id, window_number=1, code=PAD_1)
            await add_pad(db, hall_id, window_number=4, code=PAD_4)
        finally:
            await db.dispose()

    run_coroutine(pads)
    app = start_app(prepared.url, tmp, {'TRUSTED_PROXIES': '127.0.0.1'})
    try:
        yield app, prepared
    finally:
        app.stop()


def paired(app: AppProcess, url: str, device: str, address: str) -> str:
    """Pair a screen to `device` as its browser would; its credential."""
    with app.client() as client:
        response = client.post(
            '/kiosk/pair',
            data={'device': device, 'code': issue_code(url, device)},
            headers={'x-forwarded-for': address},
        )
        assert response.status_code == 303, response.text[:300]
        return response.cookies[COOKIE]


def refused_page(response: httpx.Response, status: int) -> None:
    """The plain pad pairing page: no NiceGUI client, nothing that could open a socket, nothing of a ticket."""
    assert response.status_code == status, response.text[:300]
    assert response.headers['cache-control'] == 'no-store'
    page = response.text
    assert '本屏幕不是已登记的评价器' in page and 'data-testid="kiosk-pair-code"' in page
    for trace in ('client_id', 'socket.io', '/_nicegui', '<script', '满意'):
        assert trace not in page, trace


def test_pairing_a_pad_leads_to_its_windows_page_and_opens_it(pad_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = pad_app
    with app.client() as client:
        response = client.post(
            '/kiosk/pair',
            data={'device': PAD_4, 'code': issue_code(prepared.url, PAD_4)},
            headers={'x-forwarded-for': '10.9.0.1'},
        )
        assert response.status_code == 303 and response.headers['location'] == '/rate/4'
    with app.client(cookies={COOKIE: response.cookies[COOKIE]}) as pad:
        assert 'client_id' in pad.get('/rate/4').text
    assert [row['actor'] for row in audit_rows(prepared.url, 'kiosk_paired')][-1] == f'pad:{PAD_4}'


def test_an_unpaired_or_forged_screen_gets_only_the_pairing_page(pad_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = pad_app
    real = paired(app, prepared.url, PAD_4, '10.9.1.1')
    forged = ['', secrets.token_urlsafe(32), real[:-1], hashlib.sha256(real.encode()).hexdigest(), "' OR 1=1 --"]
    for value in forged:
        with app.client(cookies={COOKIE: value} if value else None) as client:
            refused_page(client.get('/rate/4', headers={'x-forwarded-for': '10.9.1.2'}), 403)


def test_another_windows_pad_cannot_open_this_windows_page(pad_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = pad_app
    window_1 = paired(app, prepared.url, PAD_1, '10.9.2.1')
    with app.client(cookies={COOKIE: window_1}) as pad:
        refused_page(pad.get('/rate/4'), 403)
        assert 'client_id' in pad.get('/rate/1').text  # the positive control: its own window opens


def test_a_kiosk_screen_is_no_pad_and_a_pad_screen_is_no_kiosk(pad_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = pad_app
    kiosk = paired(app, prepared.url, BARE_KIOSK, '10.9.3.1')
    pad = paired(app, prepared.url, PAD_4, '10.9.3.2')
    with app.client(cookies={COOKIE: kiosk}) as client:
        refused_page(client.get('/rate/4'), 403)
    with app.client(cookies={COOKIE: pad}) as client:
        assert client.get(f'/kiosk/{PAD_4}').status_code == 404  # a pad's code is no kiosk
        assert '本屏幕不是已登记的自助取号机' in client.get(f'/kiosk/{BARE_KIOSK}').text


@pytest.mark.parametrize('window', ['2', '999', '-1', '4abc', '1' * 40, '%2e%2e'])
def test_a_window_without_a_pad_is_not_found_and_gets_no_client(
    pad_app: tuple[AppProcess, PreparedDatabase], window: str
) -> None:
    app, prepared = pad_app
    pad = paired(app, prepared.url, PAD_4, '10.9.4.1')
    with app.client(cookies={COOKIE: pad}) as client:
        response = client.get(f'/rate/{window}')
    assert response.status_code == 404
    assert 'client_id' not in response.text and '<script' not in response.text


def test_a_revoked_pad_screen_is_refused_at_once(pad_app: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = pad_app
    old = paired(app, prepared.url, PAD_1, '10.9.5.1')
    new = paired(app, prepared.url, PAD_1, '10.9.5.2')  # pairing again replaces the first screen
    with app.client(cookies={COOKIE: old}) as client:
        refused_page(client.get('/rate/1'), 403)
    with app.client(cookies={COOKIE: new}) as client:
        assert 'client_id' in client.get('/rate/1').text
