"""A crash (kill -9) or a restart loses nothing: tickets, windows, queues and numbering carry on.

The app runs as a real process (tests/apphost.py) on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from app.db import Database
from app.settings import get_settings
from tests.apphost import AppProcess, NewUser, prepare_database_async, start_app
from tests.totp import token_body

STAFF = {1: ('w01', 'Window-01-pass'), 2: ('w02', 'Window-02-pass'), 4: ('w04', 'Window-04-pass')}
# what must read the same after a restart (ETAs are estimates of the future and may move)
TICKET_FIELDS = (
    'number',
    'status',
    'service_code',
    'priority_class',
    'position',
    'ahead',
    'window_number',
    'taken_at',
    'called_at',
    'completed_at',
)


class Hall:
    """A client of the running app that logs in once per window and remembers every ticket it took."""

    def __init__(self, http: httpx.Client, window_ids: dict[int, int]) -> None:
        self.http = http
        self.window_ids = window_ids
        self.tokens: dict[int, dict[str, str]] = {}
        self.codes: dict[str, str] = {}  # tracking code (the slip's pointer to the status) -> ticket number

    def login_all(self) -> None:
        for number, (username, password) in STAFF.items():
            response = token_body(self.http, username, password)
            assert response.status_code == 200, response.text
            self.tokens[number] = {'Authorization': f'Bearer {response.json()["access_token"]}'}

    def take(self, service: str, **fields: Any) -> dict[str, Any]:
        """At the desk of window 1 (a clerk may set the priority flags an anonymous caller may not)."""
        response = self.http.post('/api/tickets', json={'service_code': service, **fields}, headers=self.tokens[1])
        assert response.status_code == 201, response.text
        self.codes[response.json()['code']] = response.json()['number']
        return response.json()

    def act(self, window: int, action: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f'/api/windows/{self.window_ids[window]}/{action}'
        response = self.http.post(url, headers=self.tokens[window], json=json)
        assert response.status_code == 200, f'{action} at window {window}: {response.status_code} {response.text}'
        return response.json()

    def tickets(self) -> dict[str, dict[str, Any]]:
        snapshot = {}
        for code in self.codes:
            response = self.http.get(f'/api/tickets/{code}')
            assert response.status_code == 200, response.text
            snapshot[code] = {field: response.json()[field] for field in TICKET_FIELDS}
        return snapshot

    def hall(self) -> dict[str, Any]:
        response = self.http.get('/api/hall')
        assert response.status_code == 200, response.text
        body = response.json()
        return {
            'windows': {w['number']: (w['state'], w['current_number'], tuple(w['services'])) for w in body['windows']},
            'waiting': {s['code']: s['waiting'] for s in body['services']},
        }


def busy_morning(hall: Hall) -> None:
    """Ten tickets in every state: completed, called, recalled, no-show, parked, transferred, waiting."""
    hall.login_all()
    for service in ('SVC-A', 'SVC-A', 'SVC-B', 'SVC-C', 'SVC-B', 'SVC-A', 'SVC-C', 'SVC-B', 'SVC-B'):
        hall.take(service)
    hall.take('SVC-A', disability=True)  # green channel: called before the other A tickets
    assert [hall.tickets()[c]['number'] for c in hall.codes][-1] == 'A004'

    assert hall.act(1, 'call-next')['number'] == 'A004'
    hall.act(1, 'complete')
    assert hall.act(1, 'call-next')['number'] == 'A001'  # stays at window 1

    assert hall.act(2, 'call-next')['number'] == 'B001'
    for _ in range(get_settings().recalls_before_no_show):
        hall.act(2, 'recall')
    assert hall.act(2, 'no-show')['status'] == 'no_show'
    assert hall.act(2, 'call-next')['number'] == 'B002'
    hall.act(2, 'recall')  # stays at window 2, recalled once

    assert hall.act(4, 'call-next')['number'] == 'C001'
    assert hall.act(4, 'park', {'reason': '补材料'})['status'] == 'parked'
    assert hall.act(4, 'call-next')['number'] == 'C002'
    hall.act(4, 'transfer', {'service_code': 'SVC-B', 'reason': '转办'})  # C002 waits again, now for B
    # left: A002, A003, B003, B004 and C002 (as B) waiting; C001 parked


def assert_same(before: tuple[dict[str, Any], dict[str, Any]], after: tuple[dict[str, Any], dict[str, Any]]) -> None:
    tickets_before, hall_before = before
    tickets_after, hall_after = after
    for code, ticket in tickets_before.items():
        assert tickets_after[code] == ticket, f'{ticket["number"]} changed over the restart'
    assert hall_after == hall_before


async def test_kill_9_and_restart_lose_nothing(db: Database, tmp_path: Path) -> None:
    prepared = await prepare_database_async(
        db.url, migrate=False, users=[NewUser(*STAFF[2], window=2), NewUser(*STAFF[4], window=4)]
    )
    small = prepared.small_hall
    assert small is not None
    window_ids = {1: small.window_1, 2: small.window_2, 3: small.window_3, 4: small.window_4}
    # the morning's recalls follow each other at once: this test is about what survives, not their interval
    app: AppProcess = start_app(db.url, tmp_path, {'RECALL_INTERVAL_SECONDS': '0'})
    try:
        with app.client() as http:
            hall = Hall(http, window_ids)
            busy_morning(hall)
            before = (hall.tickets(), hall.hall())
        statuses = sorted(t['status'] for t in before[0].values())
        assert statuses == sorted(['completed', 'called', 'no_show', 'called', 'parked'] + ['waiting'] * 5)
        assert before[1]['windows'][1][1] == 'A001' and before[1]['windows'][2][1] == 'B002'
        assert before[1]['waiting'] == {'SVC-A': 2, 'SVC-B': 3, 'SVC-C': 0}

        app.kill_hard()
        app.start()
        with app.client() as http:
            hall.http = http
            assert_same(before, (hall.tickets(), hall.hall()))
            # numbering continues, no number is issued twice
            assert [hall.take(s)['number'] for s in ('SVC-A', 'SVC-B', 'SVC-C')] == ['A005', 'B005', 'C003']
            # server-side sessions survive; the recall count too (one recall left before the limit)
            hall.act(2, 'recall')
            limit = http.post(f'/api/windows/{window_ids[2]}/recall', headers=hall.tokens[2])
            assert limit.status_code == 409 and limit.json()['code'] == 'recall_limit'
            hall.act(1, 'complete')
            assert hall.act(1, 'call-next')['number'] == 'A002'
            assert hall.act(4, 'resume', {'number': 'C001'})['status'] == 'called'
            before = (hall.tickets(), hall.hall())

        app.restart()  # graceful this time (SIGTERM)
        with app.client() as http:
            hall.http = http
            assert_same(before, (hall.tickets(), hall.hall()))
            assert hall.take('SVC-A')['number'] == 'A006'
    except BaseException as error:
        error.add_note(f'app output:\n{app.output(5000)}')
        raise
    finally:
        app.stop()
