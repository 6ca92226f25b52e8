"""Remote tickets (远程取号) attacked over real HTTP against the running app.

The attacker takes a mobile ticket without signing in, with a clerk's token, or twice for one service;
forges the hall's entrance code (API and the /arrive page); and uses another account's phone to confirm
someone else's ticket. Each refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.api.citizen import CITIZEN_COOKIE
from app.security import codes
from tests.apphost import TEST_SECRET, AppProcess, PreparedDatabase, running_app
from tests.citizen_login import citizen_token
from tests.midday import midday_zone
from tests.security.routes import assert_error, bearer, token

BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'TRUSTED_PROXIES': '127.0.0.1', 'HALL_TIMEZONE': midday_zone()}
    with running_app(tmp_path_factory.mktemp('remote-queue'), extra_env=env) as hall:
        yield hall


def outbox(app: AppProcess) -> Path:
    return app.tmp_dir / 'var' / 'sms-outbox.jsonl'


def from_address(address: str) -> dict[str, str]:
    return {'x-forwarded-for': address}


def mobile(service: str = 'SVC-A') -> dict[str, Any]:
    return {'service_code': service, 'channel': 'mobile'}


def entrance(hall_id: int) -> str:
    return codes.sign(TEST_SECRET.encode(), 'entr', str(hall_id))


def hall_id(prepared: PreparedDatabase) -> int:
    assert prepared.small_hall is not None
    return prepared.small_hall.hall_id


def hall_count(client: httpx.Client, service: str = 'SVC-A') -> int:
    services = client.get('/api/hall').json()['services']
    return next(int(s['waiting']) for s in services if s['code'] == service)


async def test_a_mobile_ticket_needs_the_citizens_own_sign_in(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client(headers=from_address('198.51.100.21')) as client:
        before = hall_count(client)
        assert_error(client.post('/api/tickets', json=mobile()), 401, 'citizen_sign_in_required')
        clerk = token(client, BOSS, address='198.51.100.21')
        assert_error(
            client.post('/api/tickets', json=mobile(), headers=bearer(clerk)), 403, 'remote_ticket_own_account'
        )
        forged = client.post('/api/tickets', json=mobile(), headers=bearer('c.not-a-real-session-token'))
        assert forged.status_code == 401, forged.text
        phone = await citizen_token(client, '13822220001', outbox(app))
        identity = {**mobile(), 'phone': '13822229999'}
        assert_error(client.post('/api/tickets', json=identity, headers=bearer(phone)), 403, 'identity_needs_device')
        assert hall_count(client) == before


async def test_a_second_live_ticket_for_the_same_service_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with app.client(headers=from_address('198.51.100.22')) as client:
        phone = await citizen_token(client, '13822220002', outbox(app))
        first = client.post('/api/tickets', json=mobile(), headers=bearer(phone))
        assert first.status_code == 201, first.text
        assert first.json()['awaiting_arrival'] is True
        before = hall_count(client)
        assert_error(client.post('/api/tickets', json=mobile(), headers=bearer(phone)), 409, 'remote_ticket_live')
        assert hall_count(client) == before


async def test_a_forged_or_other_halls_entrance_code_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    with app.client(headers=from_address('198.51.100.23')) as client:
        phone = await citizen_token(client, '13822220003', outbox(app))
        taken = client.post('/api/tickets', json=mobile(), headers=bearer(phone)).json()
        genuine = entrance(hall_id(prepared))
        for forged in (
            entrance(hall_id(prepared) + 1),
            genuine[:-3] + 'xyz',
            codes.sign(b'someone-elses-secret-key-0123456789', 'entr', str(hall_id(prepared))),
            '../../api/hall',
        ):
            refused = client.post('/api/arrivals', json={'entrance_code': forged}, headers=bearer(phone))
            assert_error(refused, 422, 'forged_code')
        client.cookies.set(CITIZEN_COOKIE, phone)
        page = client.get(f'/arrive/{genuine[:-3]}xyz')
        assert page.status_code == 200 and 'arrive-refused' in page.text and 'arrive-confirm' not in page.text
        opened = client.get(f'/arrive/{genuine}')  # a link from anywhere: the page load alone checks nobody in
        assert opened.status_code == 200 and 'arrive-confirm' in opened.text
        client.cookies.clear()
        assert client.get(f'/api/tickets/{taken["code"]}').json()['awaiting_arrival'] is True
        arrived = client.post('/api/arrivals', json={'entrance_code': genuine}, headers=bearer(phone))
        assert arrived.status_code == 200 and [t['number'] for t in arrived.json()] == [taken['number']]
        assert client.get(f'/api/tickets/{taken["code"]}').json()['awaiting_arrival'] is False


async def test_another_phone_cannot_confirm_someone_elses_ticket(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    with app.client(headers=from_address('198.51.100.24')) as client:
        victim = await citizen_token(client, '13822220004', outbox(app))
        taken = client.post('/api/tickets', json=mobile('SVC-B'), headers=bearer(victim)).json()
        attacker = await citizen_token(client, '13822220005', outbox(app))
        code = entrance(hall_id(prepared))
        answered = client.post('/api/arrivals', json={'entrance_code': code}, headers=bearer(attacker))
        assert answered.status_code == 200 and answered.json() == []
        anonymous = client.post('/api/arrivals', json={'entrance_code': code})
        assert_error(anonymous, 401, 'citizen_sign_in_required')
        clerk = token(client, BOSS, address='198.51.100.24')
        assert_error(
            client.post('/api/arrivals', json={'entrance_code': code}, headers=bearer(clerk)),
            401,
            'citizen_sign_in_required',
        )
        assert client.get(f'/api/tickets/{taken["code"]}').json()['awaiting_arrival'] is True
