"""`/manager` in chromium: a ticket taken at a kiosk and a device going offline show on the open floor map."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import ClientConnection, connect

from app.security.credentials import device_credential
from devices import protocol
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, prepare_database, run_coroutine, sqlite_url
from tests.totp import finish_login
from tests.twinkit import Devices, add_devices

MANAGER = ('boss', 'Manager-01-pass')


@pytest.fixture
def hall_with_devices(tmp_path: Path) -> Iterator[tuple[AppProcess, PreparedDatabase, Devices]]:
    """The small test hall plus a kiosk, a seat, a printer, a reader and a window display (credentials from the
    test secret), served by the real app."""
    prepared = prepare_database(sqlite_url(tmp_path / 'hall.db'))
    assert prepared.small_hall is not None
    hall = prepared.small_hall

    async def devices() -> Devices:
        from app.db import Database

        db = Database(prepared.url)
        try:
            return await add_devices(db, hall.hall_id, hall.window_1, secret=TEST_SECRET.encode())
        finally:
            await db.dispose()

    found = run_coroutine(devices)
    app = AppProcess(prepared.url, tmp_path).start()
    try:
        yield app, prepared, found
    finally:
        app.stop()


def open_dashboard(page: Page, base: str) -> None:
    page.goto(f'{base}/login?next=/manager')
    page.get_by_test_id('login-username').fill(MANAGER[0])
    page.get_by_test_id('login-password').fill(MANAGER[1])
    page.get_by_test_id('login-submit').click()
    finish_login(page)
    page.wait_for_url(re.compile(r'/manager$'))
    expect(page.get_by_test_id('floor-map')).to_be_visible()


@contextmanager
def connected_device(app: AppProcess, code: str) -> Iterator[ClientConnection]:
    """A device as the hub sees one: hello with its credential, the welcome; closing the socket takes it offline."""
    with connect(f'ws://127.0.0.1:{app.port}{protocol.PATH}', open_timeout=10) as socket:
        credential = device_credential(TEST_SECRET.encode(), code)
        socket.send(protocol.encode('hello', {'device': code, 'credential': credential, 'firmware': 'e2e'}))
        welcome = json.loads(socket.recv(timeout=10))
        assert welcome['type'] == 'welcome', welcome
        yield socket


def test_kiosk_ticket_and_offline_device_show_on_the_floor_map(
    page: Page, hall_with_devices: tuple[AppProcess, PreparedDatabase, Devices]
) -> None:
    app, _, devices = hall_with_devices
    page.set_viewport_size({'width': 1366, 'height': 768})
    open_dashboard(page, app.base_url)
    badge = page.locator('.fm-qnum').first
    expect(badge).to_have_text('0')

    taken = httpx.post(f'{app.base_url}/api/tickets', json={'service_code': 'SVC-A', 'channel': 'kiosk'}, timeout=10)
    assert taken.status_code == 201, taken.text
    expect(badge).to_have_text('1', timeout=10_000)  # a push; how fast is measured in bench/twin_clients.py, not here
    expect(page.get_by_test_id('kpi-waiting-value')).to_have_text('1 人')

    kiosk = page.locator(f'#fm-d{devices.kiosk.device_id}')
    expect(kiosk).to_have_class(re.compile(r'\boffline\b'))
    with connected_device(app, 'K01'):
        expect(kiosk).to_have_class(re.compile(r'\bonline\b'))
    expect(kiosk).to_have_class(re.compile(r'\boffline\b'))
    expect(page.get_by_test_id('alert-list')).to_contain_text('离线')

    kiosk.click()
    expect(page.get_by_test_id('detail-title')).to_have_text('1号自助取号机')
    expect(page.get_by_test_id('detail-state')).to_contain_text('离线')
