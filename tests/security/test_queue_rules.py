"""The window API's queue rules, attacked over real HTTP by a clerk who wants them to give way.

The app runs as a subprocess (tests/apphost.py) with a 2-second recall interval so the test can wait it out:
recall clicked in bursts, a transfer to one's own window or to a closed one to reset recalls or park a
citizen where nobody calls them, an out-of-order call of someone else's ticket, and a reason far over the
API's cap. What a refusal must leave alone is read straight from the database the app writes.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from app.services.reasons import REASON_MAX
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.factories import SmallHall
from tests.security.routes import assert_error, bearer, db_state, settled_state, sqlite_path, token

W01 = ('w01', 'Window-01-pass')  # window 1: A (main), B (fallback)
W02 = ('w02', 'Window-02-pass')  # window 2: B
BOSS = ('boss', 'Manager-01-pass')
INTERVAL = 2.0
IGNORED = ('rate_counter', 'audit_entry', 'staff_session')  # what a refusal may touch: counters, audit, sessions


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(
        tmp_path_factory.mktemp('queue-rules'),
        users=[NewUser(*W02, window=2)],
        extra_env={'RECALL_INTERVAL_SECONDS': str(INTERVAL)},
    ) as hall:
        yield hall


@pytest.fixture(scope='module')
def boss(live: tuple[AppProcess, PreparedDatabase]) -> dict[str, str]:
    """The manager's bearer headers, signed in once for the module: the second factor takes each 30-second
    step once per person, so a fourth sign-in in a minute would wait for the next step."""
    app, _ = live
    with app.client() as client:
        return bearer(token(client, BOSS))


class Desk:
    """One clerk's window over HTTP."""

    def __init__(self, client: httpx.Client, who: tuple[str, str], window_id: int) -> None:
        self.client, self.headers, self.url = client, bearer(token(client, who)), f'/api/windows/{window_id}'

    def post(self, action: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(f'{self.url}/{action}', json=body, headers=self.headers)

    def ok(self, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.post(action, body)
        assert response.status_code == 200, response.text
        return response.json()


def take(client: httpx.Client, service: str, boss: dict[str, str]) -> dict[str, Any]:
    response = client.post('/api/tickets', json={'service_code': service}, headers=boss)
    assert response.status_code == 201, response.text
    return response.json()


def events(url: str, number: str) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        rows = db.execute(
            'SELECT e.kind, e.reason FROM ticket_event e JOIN ticket t ON t.id = e.ticket_id'
            ' WHERE t.number = ? ORDER BY e.id',
            (number,),
        ).fetchall()
    return [(kind, reason) for kind, reason in rows]


def hall_of(prepared: PreparedDatabase) -> SmallHall:
    assert prepared.small_hall is not None
    return prepared.small_hall


def test_recalls_clicked_in_a_burst_count_once_per_interval(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    with app.client() as client:
        desk = Desk(client, W01, hall_of(prepared).window_1)
        number = take(client, 'SVC-A', boss)['number']
        assert desk.ok('call-next')['number'] == number
        started = time.monotonic()
        for _ in range(5):
            assert_error(desk.post('recall'), 409, 'recall_too_soon')
        assert_error(desk.post('no-show'), 409, 'recall_first')
        for _ in range(2):
            time.sleep(max(0.0, INTERVAL + 0.1 - (time.monotonic() - started)))
            assert desk.ok('recall')['number'] == number
            started = time.monotonic()
            assert_error(desk.post('recall'), 409, 'recall_too_soon' if _ == 0 else 'recall_limit')
        assert_error(desk.post('no-show'), 409, 'no_show_too_soon')
        time.sleep(INTERVAL + 0.1)
        assert desk.ok('no-show')['status'] == 'no_show'
        assert [kind for kind, _ in events(prepared.url, number)] == [
            'issued',
            'called',
            'recalled',
            'recalled',
            'no_show',
        ]


def test_a_transfer_cannot_reset_recalls_or_strand_a_ticket(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    small = hall_of(prepared)
    with app.client() as client:
        desk, other = Desk(client, W01, small.window_1), Desk(client, W02, small.window_2)
        number = take(client, 'SVC-B', boss)['number']
        assert desk.ok('call-next')['number'] == number
        before = settled_state(prepared.url, ignore=IGNORED)  # after the call's notifications
        own = desk.post('transfer', {'window_id': small.window_1, 'reason': '重置重呼'})
        assert_error(own, 409, 'transfer_same_window')
        closed = desk.post('transfer', {'service_code': 'SVC-A', 'window_id': small.window_3, 'reason': '停放'})
        assert_error(closed, 409, 'transfer_target_closed')
        other.ok('state', {'state': 'paused'})
        paused = desk.post('transfer', {'window_id': small.window_2, 'reason': '停放'})
        assert_error(paused, 409, 'transfer_target_closed')
        other.ok('state', {'state': 'open'})
        after = db_state(prepared.url, ignore=(*IGNORED, 'window_event'))  # window 2 paused and opened again
        assert after['tickets'] == before['tickets'] and after['windows'] == before['windows']
        assert after['counts'] == {k: v for k, v in before['counts'].items() if k != 'window_event'}

        time.sleep(INTERVAL + 0.1)
        desk.ok('recall')
        time.sleep(INTERVAL + 0.1)
        desk.ok('recall')
        moved = desk.ok('transfer', {'window_id': small.window_2, 'reason': '乙事项由2号窗口办理'})
        assert moved['status'] == 'waiting' and moved['position'] == 1
        assert other.ok('call-next')['number'] == number
        time.sleep(INTERVAL + 0.1)
        assert_error(other.post('recall'), 409, 'recall_limit')  # the recalls went with it
        other.ok('no-show')


def test_out_of_order_calls_take_nobody_from_another_window(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str]
) -> None:
    app, prepared = live
    small = hall_of(prepared)
    with app.client() as client:
        desk, other = Desk(client, W01, small.window_1), Desk(client, W02, small.window_2)
        first = take(client, 'SVC-B', boss)['number']
        second = take(client, 'SVC-B', boss)['number']
        assert other.ok('call-next')['number'] == first
        before = settled_state(prepared.url, ignore=IGNORED)  # after the call's notifications
        assert_error(desk.post('call', {'number': first, 'reason': '抢号'}), 409, 'ticket_not_waiting')
        assert db_state(prepared.url, ignore=IGNORED) == before
        other.ok('transfer', {'window_id': small.window_1, 'reason': '1号窗口复核'})  # first waits for window 1
        assert other.ok('call-next')['number'] == second
        other.ok('complete')
        before = settled_state(prepared.url, ignore=IGNORED)  # after the call's notifications
        assert_error(other.post('call', {'number': first, 'reason': '抢回'}), 409, 'ticket_for_another_window')
        assert db_state(prepared.url, ignore=IGNORED) == before
        assert desk.ok('call', {'number': first, 'reason': '复核'})['number'] == first
        desk.ok('complete')


@pytest.mark.parametrize('length', [REASON_MAX + 1, 60_000])
def test_a_reason_over_the_cap_is_refused_and_stored_nowhere(
    live: tuple[AppProcess, PreparedDatabase], boss: dict[str, str], length: int
) -> None:
    app, prepared = live
    with app.client() as client:
        desk = Desk(client, W01, hall_of(prepared).window_1)
        number = take(client, 'SVC-A', boss)['number']
        before = settled_state(prepared.url, ignore=IGNORED)  # after the call's notifications
        reason = 'x' * length  # 60,000 bytes: under the 64 KiB body limit, so the cap itself must refuse it
        assert_error(desk.post('call', {'number': number, 'reason': reason}), 422, 'invalid_request')
        assert db_state(prepared.url, ignore=IGNORED) == before
        desk.ok('call', {'number': number, 'reason': '理' * REASON_MAX})
        for action, body in (('park', {'reason': reason}), ('transfer', {'service_code': 'SVC-B', 'reason': reason})):
            assert_error(desk.post(action, body), 422, 'invalid_request')
        desk.ok('complete')
        assert [len(reason) for _, reason in events(prepared.url, number)] == [0, REASON_MAX, 0]
