"""The booking API attacked over real HTTP: no token, another's booking, forged starts, and floods.

One running app (tests/apphost.py) behind a pretend proxy, so each citizen signs in from an address of
its own (the real flow: the code read from the app's SMS outbox). What a refusal must leave alone is read
straight from the database the app writes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.clock import hall_day, utcnow
from app.services.booking_slots import bookable_days
from app.settings import load_settings
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.citizen_login import citizen_token
from tests.security.routes import assert_error, bearer, db_state, sqlite_path, token

BOSS = ('boss', 'Manager-01-pass')
NO_TOKEN_IGNORES = ('rate_counter', 'audit_entry')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('booking-edge'), extra_env={'TRUSTED_PROXIES': '127.0.0.1'}) as hall:
        yield hall


def outbox(app: AppProcess) -> Path:
    return app.tmp_dir / 'var' / 'sms-outbox.jsonl'


async def signed_in(app: AppProcess, phone: str, address: str) -> dict[str, str]:
    """A citizen's headers: the bearer token from the texted code, and the citizen's own address."""
    async with app.async_client(headers={'x-forwarded-for': address}) as client:
        return {**bearer(await citizen_token(client, phone, outbox(app))), 'x-forwarded-for': address}


def days() -> list[dt.date]:
    """The days the app lets citizens book now (the app runs on the real clock)."""
    return bookable_days(hall_day(utcnow(), load_settings().tz), load_settings().booking_days_ahead)


def slot_starts(client: httpx.Client, service: str, day: dt.date) -> list[str]:
    response = client.get(f'/api/services/{service}/slots', params={'date': day.isoformat()})
    assert response.status_code == 200, response.text
    return [slot['start'] for slot in response.json() if slot['available']]


def live_bookings(url: str) -> int:
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as db:
        return int(db.execute("SELECT count(*) FROM appointment WHERE status = 'BOOKED'").fetchone()[0])  # enum names


def test_without_a_citizens_token_nothing_is_booked_cancelled_or_listed(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    with app.client() as client:
        start = slot_starts(client, 'SVC-A', days()[1])[0]
        body = {'service_code': 'SVC-A', 'start': start}
        staff = bearer(token(client, BOSS))
        before = db_state(prepared.url, ignore=NO_TOKEN_IGNORES)
        for headers in ({}, staff):  # nobody, and a manager (a staff session is not a citizen's)
            assert_error(client.post('/api/appointments', json=body, headers=headers), 401, 'citizen_sign_in_required')
            assert_error(client.get('/api/appointments', headers=headers), 401, 'citizen_sign_in_required')
            assert_error(
                client.delete('/api/appointments/ABCDEF123456', headers=headers), 401, 'citizen_sign_in_required'
            )
            patched = client.patch('/api/appointments/ABCDEF123456', json={'start': start}, headers=headers)
            assert_error(patched, 401, 'citizen_sign_in_required')
        forged = client.post('/api/appointments', json=body, headers=bearer('c.' + 'A' * 43))
        assert forged.status_code == 401, forged.text
        assert db_state(prepared.url, ignore=NO_TOKEN_IGNORES) == before


async def test_another_citizens_booking_cannot_be_cancelled_moved_or_told_apart_from_none(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    owner = await signed_in(app, '13700000001', '10.20.0.1')
    before = live_bookings(prepared.url)
    intruder = await signed_in(app, '13700000002', '10.20.0.2')
    with app.client() as client:
        day = days()[1]
        start, later = slot_starts(client, 'SVC-B', day)[:2]
        booked = client.post('/api/appointments', json={'service_code': 'SVC-B', 'start': start}, headers=owner)
        assert booked.status_code == 201, booked.text
        reference = booked.json()['reference']
        theirs = client.delete(f'/api/appointments/{reference}', headers=intruder)
        unknown = client.delete('/api/appointments/FFFFFFFFFFFF', headers=intruder)
        assert_error(theirs, 404, 'unknown_appointment')
        assert theirs.json() == unknown.json()  # the same answer: a reference cannot be probed
        moved = client.patch(f'/api/appointments/{reference}', json={'start': later}, headers=intruder)
        assert_error(moved, 404, 'unknown_appointment')
        assert client.get('/api/appointments', headers=intruder).json() == []
        mine = client.get('/api/appointments', headers=owner).json()
        assert [(b['reference'], b['status'], b['start']) for b in mine] == [
            (reference, 'booked', booked.json()['start'])
        ]
        for path in ('/api/appointments/..%2F..%2Fapi%2Fhall', '/api/appointments/' + 'A' * 33):
            assert client.delete(path, headers=intruder).status_code in (404, 422)
        cancelled = client.delete(f'/api/appointments/{reference}', headers=owner)
        assert (cancelled.status_code, cancelled.json()['status']) == (200, 'cancelled')
    assert live_bookings(prepared.url) == before


async def test_forged_and_out_of_range_starts_are_refused_and_book_nothing(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    me = await signed_in(app, '13700000003', '10.20.0.3')
    before = live_bookings(prepared.url)
    with app.client() as client:
        start = dt.datetime.fromisoformat(slot_starts(client, 'SVC-A', days()[1])[0].replace('Z', '+00:00'))
        cases: list[tuple[Any, int, str]] = [
            ((start + dt.timedelta(minutes=10)).isoformat(), 422, 'not_a_slot'),
            ((start + dt.timedelta(seconds=1)).isoformat(), 422, 'not_a_slot'),
            ((start - dt.timedelta(weeks=4)).isoformat(), 409, 'slot_past'),  # the same weekday: a slot once
            ((start + dt.timedelta(weeks=5)).isoformat(), 422, 'slot_too_far'),
            ('2026-13-45T99:00:00Z', 422, 'invalid_request'),
            ('tomorrow', 422, 'invalid_request'),
        ]
        for forged, status, code in cases:
            response = client.post('/api/appointments', json={'service_code': 'SVC-A', 'start': forged}, headers=me)
            assert_error(response, status, code)
        huge = client.post(
            '/api/appointments', json={'service_code': 'S' * 5000, 'start': start.isoformat()}, headers=me
        )
        assert huge.status_code == 422
        unknown = client.post(
            '/api/appointments', json={'service_code': 'NOPE', 'start': start.isoformat()}, headers=me
        )
        assert_error(unknown, 404, 'unknown_service')
        assert client.get('/api/services/SVC-A/slots', params={'date': 'not-a-date'}).status_code == 422
    assert live_bookings(prepared.url) == before


async def test_a_flood_of_bookings_keeps_the_limits_and_the_places(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    me = await signed_in(app, '13700000004', '10.20.0.4')
    before = live_bookings(prepared.url)
    others = [await signed_in(app, f'1370000010{n}', f'10.20.1.{n}') for n in range(6)]
    with app.client() as client:
        # Days ahead only: today's last slot has begun by the hall's evening, and then today lists none available.
        wanted = [(service, day) for day in days()[1:5] for service in ('SVC-A', 'SVC-B', 'SVC-C')]
        bodies = [{'service_code': s, 'start': slot_starts(client, s, d)[-1]} for s, d in wanted]
        bodies += bodies  # the same slot twice, too
        contested = slot_starts(client, 'SVC-C', days()[2])[0]  # SVC-C: one place a slot
    async with app.async_client() as client:
        flood = await asyncio.gather(*(client.post('/api/appointments', json=b, headers=me) for b in bodies))
        rush = await asyncio.gather(
            *(
                client.post('/api/appointments', json={'service_code': 'SVC-C', 'start': contested}, headers=h)
                for h in others
            )
        )
    assert [r.status_code for r in flood].count(201) == 3
    assert {r.json()['code'] for r in flood if r.status_code != 201} <= {'booking_limit', 'booking_same_day'}
    assert [r.status_code for r in rush].count(201) == 1
    assert {r.json()['code'] for r in rush if r.status_code != 201} == {'slot_full'}
    with app.client() as client:
        slots = client.get('/api/services/SVC-C/slots', params={'date': days()[2].isoformat()}).json()
    assert next(s for s in slots if s['start'] == contested)['available'] == 0
    assert live_bookings(prepared.url) == before + 4
