"""Attacker tests on a running app: a child's /track cannot consent alone; a guardian's consent shows and ends there.

A 13-year-old (or anyone holding their phone) passes the texted code and presses "grant": nothing is
stored and the page says a guardian must come. A guardian's consent recorded by a clerk shows on
/track as given by a guardian, and the texted code withdraws it, audited.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest

from app.db import Database
from app.models import AuditEntry, Consent
from app.models.security import ConsentPurpose, ConsentScope
from app.models.ticket import Ticket
from app.security.crypto import FieldCipher
from app.security.keys import Purpose, derive_key
from app.services import audit
from app.services.consent import DEPARTMENT_DATA_TEXT_VERSION, ConsentService, Guardian
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, run_coroutine, running_app
from tests.callers import deps_for
from tests.idnumbers import make_id
from tests.security.browser import Page, UiSocket, open_page
from tests.security.test_citizen_keys import at_desk, bearer, rows, texted_code, texts, token, type_and_verify

CHILD_PHONE = '13912340013'


def child_id(sequence: str) -> str:
    """Born on 1 January 13 years ago: 13 on any day of this year."""
    return make_id(dt.date(dt.date.today().year - 13, 1, 1), sequence=sequence)


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('minors')) as (app, prepared):
        yield app, prepared


@pytest.fixture(scope='module')
def boss(live: tuple[AppProcess, PreparedDatabase]) -> dict[str, str]:
    """The manager's bearer headers, signed in once for the module (its second factor takes a step once)."""
    app, prepared = live
    with app.client() as client:
        return bearer(token(client, 'boss', prepared.passwords['boss']))


def adopt(page: Page, socket: UiSocket, testid: str) -> None:
    """Let `page.event` reach an element the server pushed after the page loaded (as the browser's DOM would)."""
    for event, data in socket.received:
        if event != 'update' or not isinstance(data, dict):
            continue
        for key, element in data.items():
            if isinstance(element, dict) and element.get('props', {}).get('data-testid') == testid:
                page.elements[int(key)] = element


async def verified_track(app: AppProcess, code: str) -> tuple[Page, UiSocket]:
    page = await open_page(app.base_url, f'/track/{code}')
    socket = await UiSocket(page).__aenter__()
    before = len(texts(app))
    await socket.emit('event', page.event('track-send-code', 'click'))
    await type_and_verify(page, socket, await texted_code(app, before))
    await socket.until('update', lambda data: 'track-consents' in json.dumps(data))
    return page, socket


def test_a_childs_texted_code_cannot_grant_data_sharing(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    ticket = at_desk(app, boss, id_number=child_id('913'), phone=CHILD_PHONE)

    async def attack() -> str:
        page, socket = await verified_track(app, ticket['code'])
        try:
            await socket.until('update', lambda data: 'consent-grant' in json.dumps(data))
            adopt(page, socket, 'consent-grant')
            for _ in range(3):  # pressing again changes nothing
                await socket.emit('event', page.event('consent-grant', 'click'))
            await socket.until('notify', lambda data: '监护人' in json.dumps(data, ensure_ascii=False))
            return json.dumps(socket.received, ensure_ascii=False)
        finally:
            await socket.__aexit__()

    received = asyncio.run(attack())
    assert 'guardian must consent' in received or '须由监护人' in received
    ticket_id = next(t.id for t in rows(prepared.url, Ticket) if t.code == ticket['code'])
    assert [c for c in rows(prepared.url, Consent) if c.ticket_id == ticket_id] == []
    granted = [e for e in rows(prepared.url, AuditEntry) if e.action == audit.CONSENT_GRANTED]
    assert not [e for e in granted if e.actor == f'citizen:{ticket["citizen_id"]}']


def test_a_guardians_consent_shows_on_track_and_the_texted_code_withdraws_it(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    ticket = at_desk(app, boss, id_number=child_id('924'), phone='13912340024')
    row = next(t for t in rows(prepared.url, Ticket) if t.code == ticket['code'])
    consent_id = run_coroutine(lambda: _guardian_consent(prepared.url, row.citizen_id or 0, row.id or 0))

    async def withdraw() -> str:
        page, socket = await verified_track(app, ticket['code'])
        try:
            await socket.until('update', lambda data: f'consent-revoke-{consent_id}' in json.dumps(data))
            adopt(page, socket, f'consent-revoke-{consent_id}')
            await socket.emit('event', page.event(f'consent-revoke-{consent_id}', 'click'))
            await socket.until('update', lambda data: '已撤回' in json.dumps(data, ensure_ascii=False))
            return json.dumps(socket.received, ensure_ascii=False)
        finally:
            await socket.__aexit__()

    received = asyncio.run(withdraw())
    assert f'consent-guardian-{consent_id}' in received and '监护人（父母 / parent）代为同意' in received
    (stored,) = [c for c in rows(prepared.url, Consent) if c.id == consent_id]
    assert stored.revoked_at is not None and stored.guardian_relation == 'parent'
    entries = [e for e in rows(prepared.url, AuditEntry) if e.target == f'consent:{consent_id}']
    revoked = [(e.action, e.detail.get('via'), e.detail.get('guardian_relation')) for e in entries]
    assert (audit.CONSENT_REVOKED, 'sms_code', 'parent') in revoked


async def _guardian_consent(url: str, citizen_id: int, ticket_id: int) -> int:
    """What the desk's guardian dialog records (the clerk's act at the window), written through the service."""
    db = Database(url, audit_key=derive_key(TEST_SECRET.encode(), Purpose.AUDIT))
    cipher = FieldCipher({'k1': TEST_SECRET.encode()}, 'k1')
    try:
        consent = await ConsentService(deps_for(db, cipher=cipher)).grant(
            citizen_id,
            ConsentPurpose.DEPARTMENT_DATA,
            ConsentScope.SAME_KIND,
            text_version=DEPARTMENT_DATA_TEXT_VERSION,
            service_code='SVC-A',
            ticket_id=ticket_id,
            channel='window_staff',
            actor='w01',
            role='staff',
            guardian=Guardian(make_id(dt.date(1982, 4, 4), sequence='925'), 'parent'),
        )
        return consent.id or 0
    finally:
        await db.dispose()
