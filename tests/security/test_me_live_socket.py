"""/me/live's socket (`/live/me`), attacked over real websockets against the running app.

The citizen session cookie admits the socket and nothing else does: no cookie, a forged one, a staff token in its
place or an ended session is refused before a socket opens (the accounts service's answer, as JSON); a page of
another site is refused; a citizen hears their own tickets and never another's; a session that ends while the
socket is open (signed out elsewhere, or revoked) closes it with 4401; anything a client sends closes its socket.
The app checks open pages every second here (SESSION_CHECK_SECONDS=1), behind a pretend proxy so each citizen
signs in from an address of its own (the real flow: the code read from the app's SMS outbox).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from app.api.citizen import CITIZEN_COOKIE
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.citizen_login import citizen_token
from tests.midday import midday_zone
from tests.security.routes import bearer, settled_state, sqlite_path, token

W01 = ('w01', 'Window-01-pass')
SESSION_ENDED = 4401


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'TRUSTED_PROXIES': '127.0.0.1', 'HALL_TIMEZONE': midday_zone(), 'SESSION_CHECK_SECONDS': '1'}
    with running_app(tmp_path_factory.mktemp('me-live-socket'), extra_env=env) as hall:
        yield hall


def signed_in(app: AppProcess, phone: str, address: str) -> str:
    """A citizen's session token (what the /me/login hand-over puts in the HttpOnly cookie)."""
    outbox = app.tmp_dir / 'var' / 'sms-outbox.jsonl'
    with httpx.Client(base_url=app.base_url, headers={'x-forwarded-for': address}) as client:
        return asyncio.run(citizen_token(client, phone, Path(outbox)))


def ws_url(app: AppProcess) -> str:
    return f'{app.base_url.replace("http://", "ws://")}/live/me'


def headers(cookie: str | None) -> dict[str, str]:
    return {'cookie': f'{CITIZEN_COOKIE}={cookie}'} if cookie is not None else {}


@contextmanager
def listen(app: AppProcess, cookie: str, **kwargs: Any) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """The socket as /me/live opens it, with the citizen's day it was told first."""
    kwargs.setdefault('origin', app.base_url)
    with connect(ws_url(app), open_timeout=10, additional_headers=headers(cookie), **kwargs) as socket:
        home = json.loads(socket.recv(timeout=10))
        assert home['type'] == 'home'
        yield socket, home


def refused(app: AppProcess, cookie: str | None, **kwargs: Any) -> tuple[int, dict[str, Any] | bytes]:
    """The HTTP answer to the upgrade (the socket never opened): the status and the JSON body (or raw bytes)."""
    kwargs.setdefault('origin', app.base_url)
    with (
        pytest.raises(InvalidStatus) as refusal,
        connect(ws_url(app), open_timeout=10, additional_headers=headers(cookie), **kwargs),
    ):
        pass
    response = refusal.value.response
    body = response.body or b''
    try:
        return response.status_code, dict(json.loads(body))
    except ValueError:
        return response.status_code, body


def frames_until(socket: ClientConnection, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        seen.append(json.loads(socket.recv(timeout=deadline - time.monotonic())))
        if done(seen[-1]):
            return seen
    raise AssertionError(f'never came: {seen}')


def closed_with(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closing_:
        while True:
            socket.recv(timeout=10)
    return closing_.value.rcvd.code if closing_.value.rcvd else None


def take_remote(app: AppProcess, cookie: str) -> dict[str, Any]:
    """A number taken on the phone (the account's own ticket), as /me's button takes it."""
    with httpx.Client(base_url=app.base_url) as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A', 'channel': 'mobile'}, headers=bearer(cookie))
        assert taken.status_code == 201, taken.text
        return dict(taken.json())


@contextmanager
def clerk_at_an_empty_window_1(app: AppProcess) -> Iterator[httpx.Client]:
    """The clerk of window 1, with whatever an earlier test left waiting there called and completed."""
    with httpx.Client(base_url=app.base_url) as client:
        client.headers.update(bearer(token(client, W01)))
        while client.post('/api/windows/1/call-next').status_code == 200:
            client.post('/api/windows/1/complete')
        yield client


def test_no_forged_foreign_or_staff_cookie_opens_the_socket_and_nothing_changes(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    mine = signed_in(app, '13700000101', '10.71.0.1')
    with httpx.Client(base_url=app.base_url) as client:
        staff = token(client, W01)
    before = settled_state(prepared.url, ignore=('rate_counter',))
    for cookie in (None, 'c.' + 'A' * 43, 'not-a-citizen', staff, "c.x'%20OR%201=1--", 'c.' + 'x' * 3000):
        status, body = refused(app, cookie)
        assert status == 401, cookie
        assert isinstance(body, dict) and body['code'] == 'not_authenticated' and body['message']
    assert refused(app, mine, origin='http://evil.example')[0] == 403
    assert refused(app, mine, origin='null')[0] == 403
    assert httpx.get(f'{app.base_url}/live/me', cookies={CITIZEN_COOKIE: mine}).status_code in (404, 405)
    assert settled_state(prepared.url, ignore=('rate_counter',)) == before
    with listen(app, mine, origin=None) as (_, home):  # no Origin at all: not a browser page, nothing to forge
        assert home['tickets'] == [] and home['cases'] == []


def test_a_citizen_hears_their_own_tickets_and_a_new_one_but_never_another_citizens(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    mine = signed_in(app, '13700000102', '10.71.0.2')
    theirs = signed_in(app, '13700000103', '10.71.0.3')
    with clerk_at_an_empty_window_1(app) as desk:
        ahead = desk.post('/api/tickets', json={'service_code': 'SVC-A'})
        assert ahead.status_code == 201, ahead.text
        first = take_remote(app, mine)
        with listen(app, mine) as (me, home), listen(app, theirs) as (them, their_home):
            assert [t['number'] for t in home['tickets']] == [first['number']]
            assert their_home['tickets'] == []
            snapshot = frames_until(me, lambda f: f['type'] == 'ticket')[-1]
            assert snapshot['id'] == home['tickets'][0]['id'] and snapshot['live']['ahead'] == 1
            assert desk.post('/api/windows/1/call-next').status_code == 200  # the ticket ahead goes: mine moves
            moved = frames_until(me, lambda f: f['type'] == 'ticket' and f['live']['ahead'] == 0)[-1]
            assert moved['live']['status'] == 'waiting'
            later = take_remote(app, theirs)  # taken after their page opened: it appears there, not on mine
            again = frames_until(them, lambda f: f['type'] == 'home' and f['tickets'] != [])[-1]
            assert [t['number'] for t in again['tickets']] == [later['number']]
            assert frames_until(them, lambda f: f['type'] == 'ticket')[-1]['id'] == again['tickets'][0]['id']
            assert me.ping().wait(5)
            their_id = again['tickets'][0]['id']
            with pytest.raises(TimeoutError):  # nothing of theirs reaches my page
                while True:
                    said = me.recv(timeout=1)
                    frame = json.loads(said)
                    assert later['number'] not in said and frame.get('id') != their_id
                    assert their_id not in {ticket['id'] for ticket in frame.get('tickets', [])}


def test_signing_out_elsewhere_closes_the_open_socket_and_the_cookie_is_refused_after(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    mine = signed_in(app, '13700000104', '10.71.0.4')
    with listen(app, mine) as (socket, _):
        with httpx.Client(base_url=app.base_url) as client:  # another tab or device of the same session
            assert client.request('DELETE', '/api/citizen/session', headers=bearer(mine)).status_code == 204
        assert closed_with(socket) == SESSION_ENDED  # at once by the sign-out's event: tests/test_citizen_live.py
    status, body = refused(app, mine)
    assert status == 401 and isinstance(body, dict) and body['code'] == 'session_expired'


def test_a_session_revoked_or_expired_in_the_database_closes_its_socket_at_the_next_check(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    revoked, expired, kept = (signed_in(app, f'1370000010{i}', f'10.71.1.{i}') for i in (5, 6, 7))
    with listen(app, revoked) as (first, _), listen(app, expired) as (second, _), listen(app, kept) as (third, _):
        with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
            rows = db.execute('SELECT id FROM citizen_session ORDER BY id DESC LIMIT 3').fetchall()
            newest = [row[0] for row in rows]  # kept, expired, revoked
            db.execute("UPDATE citizen_session SET revoked_at = datetime('now') WHERE id = ?", (newest[2],))
            db.execute(
                "UPDATE citizen_session SET expires_at = datetime('now', '-1 minute') WHERE id = ?", (newest[1],)
            )
            db.commit()
        assert closed_with(first) == SESSION_ENDED
        assert closed_with(second) == SESSION_ENDED
        assert third.ping().wait(5)


@pytest.mark.parametrize(
    'message',
    [b'\x00\xff' * 64, 'hello', json.dumps({'type': 'home', 'tickets': [], 'cases': []}), 'x' * (64 * 1024)],
    ids=['binary-garbage', 'text', 'forged-home', 'large'],
)
def test_anything_a_client_sends_closes_its_socket_and_no_other(
    live: tuple[AppProcess, PreparedDatabase], message: str | bytes
) -> None:
    app, _ = live
    mine = signed_in(app, '13700000108', f'10.71.2.{len(message) % 250}')
    with listen(app, mine) as (bystander, _), listen(app, mine) as (talker, _):
        talker.send(message)
        assert closed_with(talker) == 1008
        assert bystander.ping().wait(5)  # the same citizen's other page is still open


def test_the_light_page_is_the_same_frame_for_every_citizen_and_anonymous_goes_to_sign_in(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    mine = signed_in(app, '13700000109', '10.71.0.9')
    with httpx.Client(base_url=app.base_url) as client:
        for cookie in ({}, {CITIZEN_COOKIE: 'c.forged-token'}, {CITIZEN_COOKIE: 'not-even-a-citizen'}):
            client.cookies.clear()
            client.cookies.update(cookie)
            response = client.get('/me/live', follow_redirects=False)
            assert response.status_code == 303, response.text
            assert response.headers['location'].startswith('/me/login?next=/me/live')
        client.cookies.clear()
        client.cookies.set(CITIZEN_COOKIE, mine)
        page = client.get('/me/live')
        assert page.status_code == 200 and page.headers['cache-control'] == 'no-store'
        assert 'data-socket="/live/me"' in page.text and 'href="/me"' in page.text
