"""The open ticket API, attacked over real HTTP: takeover, forged channels and flags, floods, and guessing.

Each test starts the real app (tests/apphost.py) and acts as someone with no account would: with curl-like
requests, a victim's ID number and phone, a spoofed X-Forwarded-For, a restart or a second process between
attempts. What a refusal must leave alone is read straight from the database the app writes.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from app.security.crypto import FieldCipher
from app.services.ticket_access import ANONYMOUS_PER_ADDRESS, PHONE_PER_DAY
from app.services.tracking import GUESSES_PER_ADDRESS
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, running_app, start_app
from tests.idnumbers import make_id
from tests.security.routes import assert_error, bearer, db_state, settled_state, sqlite_path, token

BOSS = ('boss', 'Manager-01-pass')
VICTIM_ID = make_id(dt.date(1948, 6, 1), sequence='731')  # 78 years old: the green channel is worth stealing
VICTIM_PHONE = '13800001111'
ATTACKER_PHONE = '13999998888'
LIMIT_TABLES = ('rate_counter', 'audit_entry')  # what a refusal may touch: its own counters and audit rows
OWN_REDIS = 'redis://127.0.0.1:6379/14'  # this module's own Redis database


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    """One app behind a (pretend) reverse proxy on 127.0.0.1, so each test can be a different client address."""
    with running_app(tmp_path_factory.mktemp('public-tickets'), extra_env={'TRUSTED_PROXIES': '127.0.0.1'}) as hall:
        yield hall


def from_address(address: str) -> dict[str, str]:
    return {'x-forwarded-for': address}


def citizen_row(url: str, id_number: str) -> dict[str, Any]:
    lookup = FieldCipher({'k1': TEST_SECRET.encode()}, 'k1').lookup(id_number)
    with closing(sqlite3.connect(sqlite_path(url))) as db:
        db.row_factory = sqlite3.Row
        row = db.execute('SELECT * FROM citizen WHERE id_number_hash = ?', (lookup,)).fetchone()
    return dict(row)


def test_an_id_number_alone_takes_over_nobody(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    with app.client() as client:
        desk = bearer(token(client, BOSS))
        taken = client.post(
            '/api/tickets',
            json={'service_code': 'SVC-A', 'id_number': VICTIM_ID, 'phone': VICTIM_PHONE, 'name': '王秀英'},
            headers=desk,
        )
        assert taken.status_code == 201, taken.text
        victim = citizen_row(prepared.url, VICTIM_ID)
        before = settled_state(prepared.url, ignore=LIMIT_TABLES)

        attack = {'service_code': 'SVC-A', 'id_number': VICTIM_ID, 'phone': ATTACKER_PHONE, 'name': '攻击者'}
        response = client.post('/api/tickets', json=attack, headers=from_address('198.51.100.20'))
        assert_error(response, 403, 'identity_needs_device')
        assert citizen_row(prepared.url, VICTIM_ID) == victim  # phone and name untouched
        assert db_state(prepared.url, ignore=LIMIT_TABLES) == before  # no ticket, no number used up

        # the victim's slip still shows the ticket's status, and nothing about the person
        ticket = taken.json()
        mine = client.get(f'/api/tickets/{ticket["code"]}')
        assert mine.status_code == 200 and mine.json()['priority_class'] == 'green'
        assert VICTIM_PHONE[-4:] not in mine.text and 'phone' not in mine.json()


FORGERIES = {
    'face': ({'channel': 'face'}, 'channel_needs_device'),
    'id_card': ({'channel': 'id_card'}, 'channel_needs_device'),
    'staff': ({'channel': 'staff'}, 'channel_needs_device'),
    'appointment_qr': ({'channel': 'appointment_qr'}, 'channel_needs_device'),
    'elder id': ({'id_number': VICTIM_ID}, 'identity_needs_device'),
    'disability': ({'disability': True}, 'priority_needs_staff'),
    'pregnancy': ({'pregnancy': True}, 'priority_needs_staff'),
    'phone': ({'phone': ATTACKER_PHONE}, 'identity_needs_device'),
    'appointment code': ({'appointment_code': 'HT1.appt.REF001.AAAAAAAAAAAAAAAAAAAAAA'}, 'identity_needs_device'),
}


@pytest.mark.parametrize('forgery', FORGERIES, ids=list(FORGERIES))
def test_forged_channels_and_priority_flags_are_refused_and_change_nothing(
    live: tuple[AppProcess, PreparedDatabase], forgery: str
) -> None:
    app, prepared = live
    fields, code = FORGERIES[forgery]
    before = settled_state(prepared.url, ignore=LIMIT_TABLES)
    with app.client() as client:
        response = client.post(
            '/api/tickets', json={'service_code': 'SVC-A', **fields}, headers=from_address('198.51.100.30')
        )
    assert_error(response, 403, code)
    assert db_state(prepared.url, ignore=LIMIT_TABLES) == before


def test_a_flood_from_one_address_is_cut_off_with_retry_after(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    flooder, neighbour = '198.51.100.40', '198.51.100.41'
    with app.client() as client:
        numbers = []
        for _ in range(ANONYMOUS_PER_ADDRESS.max):
            response = client.post('/api/tickets', json={'service_code': 'SVC-B'}, headers=from_address(flooder))
            assert response.status_code == 201, response.text
            numbers.append(response.json()['number'])
        refused = client.post('/api/tickets', json={'service_code': 'SVC-B'}, headers=from_address(flooder))
        assert_error(refused, 429, 'too_many_tickets')
        assert 0 < int(refused.headers['retry-after']) <= ANONYMOUS_PER_ADDRESS.window.total_seconds()
        # spoofing the header does not help: only the trusted proxy's last hop counts
        spoofed = client.post(
            '/api/tickets', json={'service_code': 'SVC-B'}, headers=from_address(f'10.9.9.9, {flooder}')
        )
        assert_error(spoofed, 429, 'too_many_tickets')
        served = client.post('/api/tickets', json={'service_code': 'SVC-B'}, headers=from_address(neighbour))
        assert served.status_code == 201, 'the next person in the hall is not punished'
        assert served.json()['number'] not in numbers


def test_one_phone_cannot_be_pumped_with_tickets(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client() as client:
        desk = bearer(token(client, BOSS))
        for _ in range(PHONE_PER_DAY.max):
            response = client.post('/api/tickets', json={'service_code': 'SVC-C', 'phone': '13711112222'}, headers=desk)
            assert response.status_code == 201, response.text
        refused = client.post('/api/tickets', json={'service_code': 'SVC-C', 'phone': '+8613711112222'}, headers=desk)
        assert_error(refused, 429, 'phone_limit')


def test_a_slip_code_shows_status_only_and_probing_for_codes_is_limited(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    with app.client() as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-C'}, headers=from_address('198.51.100.50'))
        ticket = taken.json()
        status = client.get(f'/api/tickets/{ticket["code"]}', headers=from_address('198.51.100.51'))
        assert status.status_code == 200 and status.json()['number'] == ticket['number']
        assert 'code' not in status.json(), 'a status read hands out nothing more than the slip had'
        prober = from_address('198.51.100.52')
        for guess in range(GUESSES_PER_ADDRESS.max):
            assert_error(client.get(f'/api/tickets/made-up-{guess}', headers=prober), 403, 'tracking_refused')
        locked = client.get(f'/api/tickets/{ticket["code"]}', headers=prober)
        assert_error(locked, 429, 'tracking_locked')
        assert int(locked.headers['retry-after']) > 0


def _flood(app: AppProcess, count: int) -> list[int]:
    with app.client() as client:
        return [client.post('/api/tickets', json={'service_code': 'SVC-A'}).status_code for _ in range(count)]


def test_limits_hold_across_a_restart_and_a_second_process(tmp_path: Path) -> None:
    """Counts live in the database (no Redis here): killing the app or asking another process resets nothing."""
    with running_app(tmp_path / 'one') as (first, prepared):
        assert _flood(first, 3) == [201] * 3
        first.kill_hard()
        first.start()
        second = start_app(prepared.url, tmp_path / 'two')
        try:
            assert _flood(second, 2) == [201] * 2
            assert _flood(first, 1) == [429]
            assert _flood(second, 1) == [429]
        finally:
            second.stop()


def test_with_redis_the_limits_are_counted_in_redis(tmp_path: Path) -> None:
    with Redis.from_url(OWN_REDIS) as redis:  # counts from 127.0.0.1 of an earlier run (within its 10 minutes)
        redis.flushdb()  # must not refuse this run's tickets
    with running_app(tmp_path, extra_env={'REDIS_URL': OWN_REDIS}) as (app, prepared):
        statuses = _flood(app, ANONYMOUS_PER_ADDRESS.max + 1)
        assert statuses == [201] * ANONYMOUS_PER_ADDRESS.max + [429]
        with closing(sqlite3.connect(sqlite_path(prepared.url))) as db:
            assert db.execute('SELECT count(*) FROM rate_counter').fetchone()[0] == 0


def test_anonymous_tickets_need_no_account_but_say_what_was_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with httpx.Client(base_url=app.base_url) as client:
        response = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=from_address('198.51.100.60'))
        assert response.status_code == 201
        assert set(response.json()) >= {'number', 'code', 'position', 'eta_minutes', 'track_path'}
        expired = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=bearer('not-a-live-token'))
        assert_error(expired, 401, 'not_authenticated')  # a bad token is an error, not a quiet step down
