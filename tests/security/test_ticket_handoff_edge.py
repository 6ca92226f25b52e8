"""跨区通办 of a ticket attacked over real HTTP, with each hall's own process running on one database.

The small hall ('main') and 东区 ('east', window 9 serving SVC-C, clerk e01) each run as their own app process
(HALL_CODE). Nobody, a reviewer, 东区's clerk (no account of main's process), a bad hall or service, a malformed body
and a replay are refused and change nothing, and so is a clerk sending the ticket another window serves. Then main's
clerk sends a waiting ticket: 东区's process issues its own number, the old code reads `transferred`; with 东区's
process down the request waits (202) and is applied, once, when that process runs again, and main's process then
learns it by itself (the row is marked announced), and the old code's light status socket tells both steps live.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass

import httpx
import pytest
from websockets.sync.client import ClientConnection

from app.models.people import Role
from tests.apphost import AppProcess, NewUser, prepare_database, run_coroutine, sqlite_url, start_app
from tests.easthall import EAST, EAST_CODE, add_east_hall_at
from tests.security.live_sockets import listening
from tests.security.routes import assert_error, bearer, db_state, settled_state, sqlite_path, token
from tests.totp import token_body

CLERK = ('w01', 'Window-01-pass')  # window 1 of the small hall
BOSS = ('boss', 'Manager-01-pass')
REVIEWER = ('rv01', 'Reviewer-01-pass')
EAST_CLERK = ('e01', 'East-Clerk-01-pass')  # window 9 of 东区
GOOD = {'to_hall': EAST_CODE, 'to_service': 'SVC-C', 'reason': '户籍在东区'}
SOCKET_FIELDS = {'seq', 'status', 'window', 'ahead', 'eta'}  # a waiting ticket's text on /live/track


@dataclass
class TwoProcesses:
    main: AppProcess
    east: AppProcess
    url: str
    headers: dict[str, dict[str, str]]
    window_2: int  # main's window serving B, where the manager calls a ticket that clerk w01 must not send


@pytest.fixture(scope='module')
def halls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoProcesses]:
    tmp = tmp_path_factory.mktemp('ticket-handoff-edge')
    prepared = prepare_database(sqlite_url(tmp / 'city.db'), users=[NewUser(*REVIEWER, role=Role.REVIEWER)])
    run_coroutine(lambda: add_east_hall_at(prepared.url, window_number=9, serves=['SVC-C'], clerk=EAST_CLERK))
    main = start_app(prepared.url, tmp / 'main')
    try:
        east = start_app(prepared.url, tmp / 'east', {'HALL_CODE': EAST_CODE})
        try:
            with main.client() as client:
                headers = {who[0]: bearer(token(client, who)) for who in (CLERK, BOSS, REVIEWER)}
            assert prepared.small_hall is not None
            yield TwoProcesses(main, east, prepared.url, headers, prepared.small_hall.window_2)
        finally:
            east.stop()
    finally:
        main.stop()


def _take(client: httpx.Client) -> dict[str, str]:
    response = client.post('/api/tickets', json={'service_code': 'SVC-A'})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _send(client: httpx.Client, number: str, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return client.post(f'/api/tickets/{number}/hall-transfer', json=body, headers=headers or {}, timeout=15)


def _handoffs(url: str) -> list[tuple[str, int | None]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return list(db.execute('SELECT status, new_ticket_id FROM ticket_handoff ORDER BY id'))


def _announced(url: str) -> list[bool]:
    """Per handoff: has the sending hall's process told its own pages that it was applied?"""
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return [row[0] is not None for row in db.execute('SELECT announced_at FROM ticket_handoff ORDER BY id')]


def _text_until(socket: ClientConnection, done: Callable[[dict[str, object]], bool]) -> dict[str, object]:
    """The first text on the socket that satisfies `done` (within the 15 s an inbox round and a restart take)."""
    deadline = time.monotonic() + 15
    while True:
        text = dict(json.loads(socket.recv(timeout=max(deadline - time.monotonic(), 0.01))))
        if done(text):
            return text


def test_strangers_and_the_other_halls_clerk_cannot_send_a_ticket(halls: TwoProcesses) -> None:
    with halls.main.client() as client:
        number = _take(client)['number']
        before = settled_state(halls.url)
        assert_error(_send(client, number, GOOD), 401, 'not_authenticated')
        assert_error(_send(client, number, GOOD, bearer('forged-token-' + 'x' * 30)), 401, 'not_authenticated')
        assert_error(_send(client, number, GOOD, halls.headers['rv01']), 403, 'forbidden')
        assert db_state(halls.url) == before
        # 东区's clerk is no account of main's process: signing in there gets an unknown account's answer
        assert_error(token_body(client, EAST_CLERK[0], EAST_CLERK[1], {}), 401, 'bad_credentials')
    with halls.east.client() as client:  # and at 东区's own process, main's ticket numbers are not 东区's
        east_clerk = bearer(token(client, EAST_CLERK))
        before = settled_state(halls.url, ignore=('audit_entry', 'auth_session'))
        assert_error(_send(client, number, {**GOOD, 'to_hall': 'main'}, east_clerk), 404, 'unknown_ticket')
        assert db_state(halls.url, ignore=('audit_entry', 'auth_session')) == before


def test_wrong_halls_services_and_bodies_are_refused_and_change_nothing(halls: TwoProcesses) -> None:
    clerk = halls.headers['w01']
    with halls.main.client() as client:
        number = _take(client)['number']
        before = settled_state(halls.url)
        assert_error(_send(client, number, {**GOOD, 'to_hall': 'nowhere'}, clerk), 404, 'unknown_hall_code')
        assert_error(_send(client, number, {**GOOD, 'to_hall': 'main'}, clerk), 409, 'handoff_same_hall')
        assert_error(_send(client, number, {**GOOD, 'to_service': 'NO-SUCH'}, clerk), 404, 'unknown_service')
        assert_error(_send(client, number, {**GOOD, 'to_service': 'SVC-A'}, clerk), 409, 'service_not_in_hall')
        assert_error(_send(client, 'Z999', GOOD, clerk), 404, 'unknown_ticket')
        assert_error(_send(client, number, {**GOOD, 'reason': '   '}, clerk), 422, 'reason_required')
        for body in ({**GOOD, 'to_hall': 'x' * 40}, {'to_hall': EAST_CODE, 'reason': 'x'}, {**GOOD, 'reason': 9}, []):
            assert _send(client, number, body, clerk).status_code == 422, body
        assert _send(client, 'A' * 20, GOOD, clerk).status_code == 422
        assert db_state(halls.url) == before


def test_a_clerk_cannot_send_the_ticket_another_window_serves(halls: TwoProcesses) -> None:
    with halls.main.client() as client:
        response = client.post('/api/tickets', json={'service_code': 'SVC-B'})
        assert response.status_code == 201, response.text
        called = client.post(f'/api/windows/{halls.window_2}/call-next', headers=halls.headers['boss'])
        assert called.status_code == 200, called.text
        number = called.json()['number']
        before = settled_state(halls.url)
        assert_error(_send(client, number, GOOD, halls.headers['w01']), 403, 'not_your_window')
        assert db_state(halls.url) == before
        complete = client.post(f'/api/windows/{halls.window_2}/complete', headers=halls.headers['boss'])
        assert complete.status_code == 200, complete.text


def test_the_other_halls_process_issues_its_own_number_once_and_a_replay_is_refused(halls: TwoProcesses) -> None:
    with halls.main.client() as client:
        taken = _take(client)
        response = _send(client, taken['number'], GOOD, halls.headers['w01'])
        assert response.status_code == 200, response.text
        sent = response.json()
        assert sent['status'] == 'applied' and sent['to_hall'] == EAST_CODE and sent['new_number'].startswith('C')
        assert client.get(f'/api/tickets/{taken["code"]}').json()['status'] == 'transferred'
        before = settled_state(halls.url)
        replay = _send(client, taken['number'], GOOD, halls.headers['w01'])
        assert_error(replay, 409, 'ticket_already_transferred')
        assert db_state(halls.url) == before
    with halls.east.client() as client:
        issued = client.get(f'/api/tickets/{sent["new_code"]}').json()
        assert issued['number'] == sent['new_number'] and issued['status'] == 'waiting'


def test_with_the_other_hall_down_the_request_waits_and_is_applied_once_when_it_runs(halls: TwoProcesses) -> None:
    halls.east.stop()
    try:
        with halls.main.client() as client:
            taken = _take(client)
            response = _send(client, taken['number'], GOOD, halls.headers['boss'])
            assert response.status_code == 202, response.text
            assert response.json()['status'] == 'pending' and response.json()['new_number'] is None
            assert _handoffs(halls.url)[-1] == ('PENDING', None)
    finally:
        halls.east.start()
    deadline = time.monotonic() + 10
    while _handoffs(halls.url)[-1][0] != 'APPLIED' and time.monotonic() < deadline:
        time.sleep(0.2)
    handoffs = _handoffs(halls.url)
    assert handoffs[-1][0] == 'APPLIED'
    assert len({new for _, new in handoffs}) == len(handoffs)  # one new ticket per request
    while not _announced(halls.url)[-1] and time.monotonic() < deadline:  # main's process learns it, by itself
        time.sleep(0.2)
    assert all(_announced(halls.url))


def test_the_light_status_socket_says_where_a_sent_ticket_went_and_then_its_new_number(halls: TwoProcesses) -> None:
    halls.east.stop()  # 东区 issues its number only once its process runs: the page hears both steps
    try:
        with halls.main.client() as client:  # the clerk's ticket: the module's anonymous ones are at the limit
            response = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=halls.headers['w01'])
            assert response.status_code == 201, response.text
            taken = response.json()
        url = f'{halls.main.base_url.replace("http://", "ws://")}/live/track/{taken["code"]}'
        with listening(url, halls.main.base_url, SOCKET_FIELDS) as (socket, snapshot):
            assert snapshot['status'] == 'waiting'
            with halls.main.client() as client:
                assert _send(client, taken['number'], GOOD, halls.headers['w01']).status_code == 202
            sent = _text_until(socket, lambda text: 'to_hall' in text)
            assert (sent['status'], sent['to_hall'], sent['new_number']) == ('transferred', EAST, None)
            assert sent['to_service']
            halls.east.start()
            applied = _text_until(socket, lambda text: text.get('new_number') is not None)
            assert applied['status'] == 'transferred' and applied['to_hall'] == EAST
            assert str(applied['new_number']).startswith('C')
    finally:
        if not halls.east.running:
            halls.east.start()
