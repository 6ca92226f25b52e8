"""Pairing kiosk screens in tests against the running app: a code issued straight into its database, then the
pairing form, in a browser (Playwright) or over HTTP.

The code is issued as an admin would on /admin, by the same service, with the pairing key derived from the
app's SECRET_KEY (tests/apphost.py TEST_SECRET); the screen then pairs exactly as a real one does.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import Hall
from app.security.keys import Purpose, derive_key
from app.services.kiosk_pairing import KioskPairingService
from app.services.principal import Principal
from tests.apphost import TEST_SECRET, run_coroutine
from tests.callers import deps_for

PAIR_WAIT_MS = 20_000  # generous: the machine is shared


async def pairing_service(db: Database) -> KioskPairingService:
    """The app's pairing rules on its database, keyed as the app is (its first hall, like the app)."""
    async with db.read_session() as s:
        hall_id = (await s.execute(select(Hall.id).order_by(Hall.id))).scalars().first()
    assert hall_id is not None
    return KioskPairingService(deps_for(db, InProcessBus(), hall_id=hall_id))  # the run's SECRET_KEY, as the app's


def app_database(db_url: str) -> Database:
    """The running app's database as the app opens it: with its audit key, since pairing is audited."""
    return Database(db_url, audit_key=derive_key(TEST_SECRET.encode(), Purpose.AUDIT))


def issue_code(db_url: str, device: str) -> str:
    """A fresh one-time code for `device`, as shown on /admin ('ABCD-EFGH')."""

    async def issue() -> str:
        db = app_database(db_url)
        try:
            return (await (await pairing_service(db)).issue_code(Principal.system('tests'), device)).shown
        finally:
            await db.dispose()

    return run_coroutine(issue)


def pair_page(page: Page, base_url: str, db_url: str, device: str = 'K01') -> None:
    """Open /kiosk/{device} in this browser, type a fresh code into the pairing form: the kiosk appears."""
    page.goto(f'{base_url}/kiosk/{device}')
    type_code(page, issue_code(db_url, device))
    page.wait_for_url(re.compile(re.escape(f'/kiosk/{device}') + '$'))
    expect(page.get_by_test_id('kiosk-root')).to_be_visible(timeout=PAIR_WAIT_MS)


def type_code(page: Page, code: str) -> None:
    """The pairing page is open: type the code (as a person, or as a scanner that ends with Enter)."""
    expect(page.get_by_test_id('kiosk-not-paired')).to_be_visible()
    page.get_by_test_id('kiosk-pair-code').fill(code)
    page.get_by_test_id('kiosk-pair-submit').click()


def pair_client(client: httpx.Client, db_url: str, device: str = 'K01') -> str:
    """Pair an HTTP client as `device`'s screen; returns the credential (also in the client's cookie jar)."""
    response = client.post('/kiosk/pair', data={'device': device, 'code': issue_code(db_url, device)})
    assert response.status_code == 303, response.text
    return str(response.cookies['ht_kiosk'])
