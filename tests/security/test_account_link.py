"""Linking a phone account to a person, attacked against the running app over real HTTP and the page's socket.

The link is made only on the window desk by the clerk serving the ticket. The attacker is the phone itself
(its citizen token as cookie or bearer), an anonymous browser, and a clerk of another window; none of them
reaches the desk, and the account stays unlinked until the clerk at the ticket's own window links it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from app.api.citizen import CITIZEN_COOKIE
from app.api.web_session import SESSION_COOKIE
from app.security.crypto import FieldCipher
from tests.apphost import TEST_SECRET, AppProcess, NewUser, PreparedDatabase, running_app
from tests.citizen_login import citizen_token
from tests.idnumbers import make_id
from tests.security.browser import UiSocket, open_page
from tests.security.routes import bearer, sqlite_path, token

PHONE = '13822220001'
CITIZEN = make_id(dt.date(1975, 6, 7), sequence='615')
W02 = NewUser('w02', 'Window-02-pass', window=2)


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('account-link'), users=[W02]) as hall:
        yield hall


def query(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db, db:
        return list(db.execute(sql, args))


def account_of(url: str, phone: str) -> tuple[int, int | None]:
    lookup = FieldCipher({'k1': TEST_SECRET.encode()}, 'k1').lookup(phone)
    [(account_id, citizen_id)] = query(url, 'SELECT id, citizen_id FROM citizen_account WHERE phone_hash = ?', lookup)
    assert isinstance(account_id, int) and (citizen_id is None or isinstance(citizen_id, int))
    return account_id, citizen_id


@pytest.fixture(scope='module')
def phone_ticket(live: tuple[AppProcess, PreparedDatabase]) -> tuple[str, int]:
    """A signed-in phone (its citizen token) whose ticket, with a read ID, is being served at window 1."""
    app, prepared = live
    assert prepared.small_hall is not None
    with app.client() as client:
        citizen = asyncio.run(citizen_token(client, PHONE, app.tmp_dir / 'var' / 'sms-outbox.jsonl'))
        clerk = bearer(token(client, ('w01', prepared.passwords['w01'])))
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A', 'id_number': CITIZEN}, headers=clerk)
        assert taken.status_code == 201, taken.text
        account_id, _ = account_of(prepared.url, PHONE)
        query(prepared.url, 'UPDATE ticket SET account_id = ? WHERE number = ?', account_id, taken.json()['number'])
        called = client.post(f'/api/windows/{prepared.small_hall.window_1}/call-next', headers=clerk)
        assert called.status_code == 200 and called.json()['number'] == taken.json()['number'], called.text
    return citizen, account_id


def desk_answer(app: AppProcess, path: str, **client: Any) -> httpx.Response:
    with app.client(**client) as browser:
        return browser.get(path, follow_redirects=False)


def test_the_phone_itself_and_an_anonymous_browser_never_reach_the_desk_that_links(
    live: tuple[AppProcess, PreparedDatabase], phone_ticket: tuple[str, int]
) -> None:
    app, prepared = live
    assert prepared.small_hall is not None
    citizen, _ = phone_ticket
    desk = f'/window/{prepared.small_hall.window_1}'
    answers = [
        desk_answer(app, desk),
        desk_answer(app, desk, cookies={CITIZEN_COOKIE: citizen}),
        desk_answer(app, desk, headers=bearer(citizen)),
        desk_answer(app, desk, cookies={SESSION_COOKIE: citizen}),  # a citizen token where a staff session goes
    ]
    for answer in answers:
        assert answer.status_code in {302, 303, 307, 401, 403}, (answer.status_code, answer.text[:200])
        assert 'desk-link' not in answer.text and PHONE[-4:] not in answer.text
    assert account_of(prepared.url, PHONE)[1] is None


def test_a_clerk_of_another_window_cannot_link_and_the_clerk_serving_the_ticket_can(
    live: tuple[AppProcess, PreparedDatabase], phone_ticket: tuple[str, int]
) -> None:
    app, prepared = live
    hall = prepared.small_hall
    assert hall is not None
    with app.client() as client:
        other = token(client, (W02.username, W02.password))
        serving = token(client, ('w01', prepared.passwords['w01']))
    refused = desk_answer(app, f'/window/{hall.window_1}', cookies={SESSION_COOKIE: other})
    assert refused.status_code == 403 and 'desk-link' not in refused.text
    own = asyncio.run(open_page(app.base_url, f'/window/{hall.window_2}', cookies={SESSION_COOKIE: other}))
    assert not any(e.get('props', {}).get('data-testid') == 'desk-link' for e in own.elements.values())
    assert account_of(prepared.url, PHONE)[1] is None

    async def link_at_window_1() -> None:
        page = await open_page(app.base_url, f'/window/{hall.window_1}', cookies={SESSION_COOKIE: serving})
        async with UiSocket(page) as socket:
            await socket.emit('event', page.event('desk-link', 'click'))
            await asyncio.sleep(0.5)
            await socket.emit('event', page.event('link-ok', 'click'))
            for _ in range(200):
                if account_of(prepared.url, PHONE)[1] is not None:
                    return
                await asyncio.sleep(0.05)

    asyncio.run(link_at_window_1())
    account_id, linked = account_of(prepared.url, PHONE)
    [(citizen_id,)] = query(prepared.url, 'SELECT citizen_id FROM ticket WHERE account_id = ?', account_id)
    assert linked is not None and linked == citizen_id
    entries = query(prepared.url, "SELECT actor, target FROM audit_entry WHERE action = 'citizen_account_linked'")
    assert entries == [('w01', f'account:{account_id}')]
