"""Kiosk screens are paired devices, in chromium on the real seed.

An admin pairs a screen from /admin (code and QR code), a card read at K01's reader reaches only K01's
paired screen (not K02's, not an unpaired browser on /kiosk/K01), an unpaired screen stops within a
minute whether or not the push arrives, and a clerk assisting at the kiosk types an ID number and is
signed out when the citizen is done.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, WebSocket, expect
from pyzbar import pyzbar
from websockets.sync.client import ClientConnection, connect

from app.security.credentials import device_credential
from app.security.masking import mask_id_number
from app.services.principal import Principal
from devices import protocol
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, run_coroutine, running_app
from tests.idnumbers import make_id
from tests.kioskpairing import PAIR_WAIT_MS, app_database, pair_page, pairing_service, type_code
from tests.security.routes import session_rows, sqlite_path
from tests.totp import finish_login

UNPAIRED_WITHIN_MS = 60_000  # the promise: a revoked screen stops within a minute, push or no push
ELDER_ID = make_id(dt.date(dt.date.today().year - 72, 3, 1))
YOUNG_ID = make_id(dt.date(1990, 5, 1), sequence='456')


@pytest.fixture(scope='module')
def seeded_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """The real seed: kiosks K01-K06 with their readers (credentials from the test secret), admin and clerks."""
    with running_app(tmp_path_factory.mktemp('e2e-pairing'), seed='default') as (app, prepared):
        yield app, prepared


@pytest.fixture(autouse=True)
def patient_expect() -> None:
    """Pushed changes on a shared 2-core machine: wait for them generously (never a sleep)."""
    expect.set_options(timeout=PAIR_WAIT_MS)


def kiosk_screen(browser: Browser) -> Page:
    """A browser of its own, as each kiosk screen is."""
    page = browser.new_context(viewport={'width': 1080, 'height': 1920}).new_page()
    page.set_default_timeout(PAIR_WAIT_MS)
    return page


def log_in(page: Page, base: str, path: str, username: str, password: str) -> None:
    page.goto(f'{base}/login?next={path}')
    page.get_by_test_id('login-username').fill(username)
    page.get_by_test_id('login-password').fill(password)
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(f'{base}{path}')  # not the login page, whose ?next= ends with the path too


def scan(page: Page, test_id: str) -> str:
    """What the kiosk's scanner (or a phone) reads from a QR code on screen."""
    [code] = pyzbar.decode(Image.open(io.BytesIO(page.get_by_test_id(test_id).screenshot())))
    return code.data.decode('ascii')


def frames_of(page: Page) -> list[str]:
    """Every websocket frame the page receives from now on (attach before it opens its socket)."""
    frames: list[str] = []

    def watch(socket: WebSocket) -> None:
        socket.on('framereceived', lambda payload: frames.append(payload if isinstance(payload, str) else ''))

    page.on('websocket', watch)
    return frames


@contextmanager
def connected_device(app: AppProcess, code: str) -> Iterator[ClientConnection]:
    """A device as the hub sees one: hello with its credential, then the welcome."""
    with connect(f'ws://127.0.0.1:{app.port}{protocol.PATH}', open_timeout=10) as socket:
        credential = device_credential(TEST_SECRET.encode(), code)
        socket.send(protocol.encode('hello', {'device': code, 'credential': credential, 'firmware': 'e2e'}))
        welcome = json.loads(socket.recv(timeout=10))
        assert welcome['type'] == 'welcome', welcome
        yield socket


def revoke_without_push(db_url: str, device: str) -> None:
    """Unpair straight in the database, as another process would: this app hears no event about it."""

    async def revoke() -> None:
        db = app_database(db_url)
        try:
            await (await pairing_service(db)).revoke(Principal.system('e2e'), device)
        finally:
            await db.dispose()

    run_coroutine(revoke)


def test_an_admin_pairs_a_screen_with_the_code_and_unpairing_closes_it(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    base = app.base_url
    kiosk = kiosk_screen(browser)
    kiosk.goto(f'{base}/kiosk/K01')
    expect(kiosk.get_by_test_id('kiosk-not-paired')).to_be_visible()
    assert kiosk.evaluate('typeof window.socket') == 'undefined'  # no NiceGUI client, so no socket

    admin = browser.new_context(viewport={'width': 1366, 'height': 900}).new_page()
    log_in(admin, base, '/admin', 'admin', prepared.passwords['admin'])
    expect(admin.get_by_test_id('admin-kiosk-K01-state')).to_have_text('未配对')
    admin.get_by_test_id('admin-kiosk-K01-issue').click()
    code = admin.get_by_test_id('admin-pair-code').inner_text()
    assert re.fullmatch(r'[A-Z2-9]{4}-[A-Z2-9]{4}', code), code
    expect(admin.get_by_test_id('admin-pair-expiry')).to_contain_text('有效至')
    assert scan(admin, 'admin-pair-qr') == code.replace('-', '')  # what a scanner types into the form

    type_code(kiosk, scan(admin, 'admin-pair-qr'))
    expect(kiosk.get_by_test_id('kiosk-start-manual')).to_be_visible()
    expect(admin.get_by_test_id('admin-pair-code')).to_have_count(0)  # the used code's dialog closed itself
    expect(admin.get_by_test_id('admin-kiosk-K01-state')).to_have_text('已配对')
    cookie = next(c for c in kiosk.context.cookies() if c['name'] == 'ht_kiosk')
    assert cookie['httpOnly'] is True and cookie['sameSite'] == 'Strict' and cookie['path'] == '/'
    assert 'ht_kiosk' not in kiosk.evaluate('document.cookie')  # page scripts cannot read it

    admin.get_by_test_id('admin-kiosk-K01-revoke').click()
    admin.get_by_test_id('admin-revoke-confirm').click()
    expect(admin.get_by_test_id('admin-kiosk-K01-state')).to_have_text('未配对')
    started = time.monotonic()
    expect(kiosk.get_by_test_id('kiosk-not-paired')).to_be_visible(timeout=UNPAIRED_WITHIN_MS)
    assert time.monotonic() - started < 15, 'the push should close it long before the minute is up'
    kiosk.context.close()
    admin.context.close()


def test_a_card_read_reaches_only_the_paired_screen_of_its_kiosk(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    base = app.base_url
    k01, k02, stranger = kiosk_screen(browser), kiosk_screen(browser), kiosk_screen(browser)
    k02_frames, stranger_frames = frames_of(k02), frames_of(stranger)
    pair_page(k01, base, prepared.url, 'K01')
    pair_page(k02, base, prepared.url, 'K02')
    stranger.goto(f'{base}/kiosk/K01')  # a browser anywhere, on K01's address, without its credential
    expect(stranger.get_by_test_id('kiosk-not-paired')).to_be_visible()

    masked = mask_id_number(ELDER_ID)
    with connected_device(app, 'K01-ID') as reader:
        reader.send(protocol.encode('card_read', {'id_number': ELDER_ID, 'name': '王老伯'}))
        expect(k01.get_by_test_id('kiosk-identity')).to_contain_text(masked)
        expect(k01.get_by_test_id('kiosk-root')).to_have_class(re.compile(r'\belder\b'))
        k01.wait_for_timeout(1500)  # every open page has had the event by now
    assert not [frame for frame in k02_frames if masked in frame or '已识别' in frame]
    expect(k02.get_by_test_id('kiosk-start-card')).to_be_visible()  # K02 untouched
    assert stranger_frames == [] and stranger.evaluate('typeof window.socket') == 'undefined'
    expect(stranger.get_by_test_id('kiosk-not-paired')).to_be_visible()
    assert ELDER_ID not in k01.content() and masked not in stranger.content()

    revoke_without_push(prepared.url, 'K02')  # no event reaches this app: the screen finds out by itself
    started = time.monotonic()
    expect(k02.get_by_test_id('kiosk-not-paired')).to_be_visible(timeout=UNPAIRED_WITHIN_MS)
    assert time.monotonic() - started < UNPAIRED_WITHIN_MS / 1000
    expect(k01.get_by_test_id('kiosk-identity')).to_be_visible()  # K01 keeps serving
    for page in (k01, k02, stranger):
        page.context.close()


def test_a_clerk_assists_at_the_kiosk_types_an_id_and_is_signed_out_after(
    browser: Browser, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    app, prepared = seeded_hall
    kiosk = kiosk_screen(browser)
    pair_page(kiosk, app.base_url, prepared.url, 'K03')
    expect(kiosk.get_by_test_id('kiosk-start-card')).to_be_visible()
    expect(kiosk.get_by_test_id('kiosk-id-input')).to_have_count(0)  # nobody types a number alone

    kiosk.get_by_test_id('kiosk-assist').click()
    kiosk.get_by_test_id('kiosk-assist-username').fill('w01')
    kiosk.get_by_test_id('kiosk-assist-password').fill(prepared.passwords['w01'])
    kiosk.get_by_test_id('kiosk-assist-submit').click()
    expect(kiosk.get_by_test_id('kiosk-assist-by')).to_contain_text('王晓燕')
    kiosk.get_by_test_id('kiosk-id-input').fill(YOUNG_ID)
    kiosk.get_by_test_id('kiosk-id-submit').click()
    expect(kiosk.get_by_test_id('kiosk-identity')).to_contain_text(mask_id_number(YOUNG_ID))
    kiosk.get_by_test_id('kiosk-assist-disability').click()
    kiosk.get_by_test_id('kiosk-service-HUKOU-IN').click()
    kiosk.get_by_test_id('kiosk-answer-hukou_local-no').click()
    kiosk.get_by_test_id('kiosk-take').click()
    number = kiosk.get_by_test_id('kiosk-ticket-number')
    expect(number).to_have_text(re.compile(r'H\d{3}'))
    expect(kiosk.get_by_test_id('kiosk-ticket-green')).to_be_visible()  # the clerk's priority need counted

    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
        channel, reason, citizen, actor = db.execute(
            'SELECT t.channel, t.priority_reason, t.citizen_id, e.actor FROM ticket t '
            "JOIN ticket_event e ON e.ticket_id = t.id AND e.kind = 'issued' WHERE t.number = ?",
            (number.inner_text(),),
        ).fetchone()
    assert (channel, reason, actor) == ('KIOSK', 'disability', 'kiosk:K03') and citizen is not None  # enum names
    clerk = [row for row in session_rows(prepared.url) if row['username'] == 'w01']
    assert [row['revoked_at'] is None for row in clerk] == [True]

    kiosk.get_by_test_id('kiosk-ticket-done').click()  # the citizen is done: the clerk is signed out
    expect(kiosk.get_by_test_id('kiosk-assist-by')).to_have_count(0)
    expect(kiosk.get_by_test_id('kiosk-id-input')).to_have_count(0)
    clerk = [row for row in session_rows(prepared.url) if row['username'] == 'w01']
    assert [row['revoked_at'] is None for row in clerk] == [False]
    assert ELDER_ID not in kiosk.content() and YOUNG_ID not in kiosk.content()
    kiosk.context.close()


def test_an_unpaired_browser_path_is_the_pairing_page_even_for_a_staff_member(
    page: Page, seeded_hall: tuple[AppProcess, PreparedDatabase]
) -> None:
    """A staff login does not make a browser a kiosk: the credential is the screen's, not a person's."""
    app, prepared = seeded_hall
    log_in(page, app.base_url, '/admin', 'admin', prepared.passwords['admin'])
    page.goto(f'{app.base_url}/kiosk/K04')
    expect(page.get_by_test_id('kiosk-not-paired')).to_be_visible()
    assert page.evaluate('typeof window.socket') == 'undefined'
