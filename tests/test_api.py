"""The REST contract under /api, through the real app (main.py run in-process by NiceGUI's `user` fixture).

Every refused request must answer JSON with `code` and `message` and leave the hall as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nicegui import core
from nicegui.testing import User
from stdnum.cn import ric

from app.api.routes import router
from app.models.people import Role
from app.settings import ROOT, get_settings
from tests.apphost import AppProcess, NewUser, prepare_database, running_app, sqlite_url
from tests.factories import SmallHall
from tests.idnumbers import make_id
from tests.queueclock import pass_recall_interval
from tests.running import ready
from tests.totp import token_body_async

W01 = ('w01', 'Window-01-pass')  # staff of window 1 (serves A main, B fallback), from tests/factories.py
BOSS = ('boss', 'Manager-01-pass')  # manager: any window
W02 = ('w02', 'Window-02-pass')  # staff of window 2 (serves B only)
REVIEWER = ('rv01', 'Reviewer-01-pass')


@dataclass(frozen=True)
class ApiHall:
    url: str
    hall: SmallHall


@pytest.fixture(scope='session')
def api_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SmallHall]:
    """The small hall plus w02 and a reviewer, built once (argon2 hashing is slow) and copied per test."""
    path = tmp_path_factory.mktemp('api-template') / 'api.db'
    prepared = prepare_database(
        sqlite_url(path), users=[NewUser(*W02, window=2), NewUser(*REVIEWER, role=Role.REVIEWER)]
    )
    assert prepared.small_hall is not None
    return path, prepared.small_hall


@pytest.fixture
def api_hall(
    tmp_path: Path, api_template: tuple[Path, SmallHall], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ApiHall]:
    """A fresh copy of the template database, set as DATABASE_URL for the app under test."""
    template, small_hall = api_template
    target = tmp_path / 'api.db'
    shutil.copyfile(template, target)
    url = sqlite_url(target)
    monkeypatch.setenv('DATABASE_URL', url)
    get_settings.cache_clear()
    yield ApiHall(url, small_hall)
    get_settings.cache_clear()


@pytest.fixture
async def client(api_hall: ApiHall, user: User) -> httpx.AsyncClient:
    """An httpx client on NiceGUI's ASGI app, started (lifespan) on the api_hall database."""
    return user.http_client


@pytest.fixture
def small(api_hall: ApiHall) -> SmallHall:
    return api_hall.hall


# ---- helpers ---------------------------------------------------------------------------------


async def login(client: httpx.AsyncClient, who: tuple[str, str]) -> dict[str, str]:
    response = await token_body_async(client, who[0], who[1])
    assert response.status_code == 200, response.text
    return {'Authorization': f'Bearer {response.json()["access_token"]}'}


_desk_tokens: dict[int, dict[str, str]] = {}
PLAIN = {'service_code', 'channel'}


async def desk(client: httpx.AsyncClient) -> dict[str, str]:
    """A manager's token (who may take tickets with an identity), logged in once per client."""
    if id(client) not in _desk_tokens:
        _desk_tokens[id(client)] = await login(client, BOSS)
    return _desk_tokens[id(client)]


async def take(client: httpx.AsyncClient, service: str = 'SVC-A', **fields: Any) -> dict[str, Any]:
    """A plain ticket anonymously; one with an identity or a non-plain channel at the desk (a clerk's token)."""
    body = {'service_code': service, **fields}
    plain = set(body) <= PLAIN and body.get('channel', 'kiosk') == 'kiosk'
    response = await client.post('/api/tickets', json=body, headers=None if plain else await desk(client))
    assert response.status_code == 201, response.text
    return response.json()


async def hall(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get('/api/hall')
    assert response.status_code == 200, response.text
    return response.json()


def waiting(snapshot: dict[str, Any]) -> dict[str, int]:
    return {s['code']: s['waiting'] for s in snapshot['services']}


def current(snapshot: dict[str, Any]) -> dict[int, str | None]:
    return {w['number']: w['current_number'] for w in snapshot['windows']}


def state_of(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What a refused request must not change (ETAs may drift with the clock, so they are left out)."""
    return {'waiting': waiting(snapshot), 'current': current(snapshot), 'states': _states(snapshot)}


def _states(snapshot: dict[str, Any]) -> dict[int, str]:
    return {w['number']: w['state'] for w in snapshot['windows']}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers['content-type'].startswith('application/json')
    body = response.json()
    assert body['code'] == code, body
    assert isinstance(body['message'], str) and body['message'], body
    return body


async def ticket(client: httpx.AsyncClient, taken: dict[str, Any]) -> dict[str, Any]:
    """A ticket's status as its slip shows it: the code alone (a pointer: nothing about the person)."""
    response = await client.get(f'/api/tickets/{taken["code"]}')
    assert response.status_code == 200, response.text
    return response.json()


# ---- taking a number and the hall -------------------------------------------------------------


async def test_take_ticket_returns_number_code_position_and_eta(client: httpx.AsyncClient) -> None:
    first = await take(client)
    second = await take(client, channel='kiosk')
    other = await take(client, 'SVC-B')
    assert [first['number'], second['number'], other['number']] == ['A001', 'A002', 'B001']
    for t in (first, second, other):
        assert t['status'] == 'waiting'
        assert isinstance(t['code'], str) and len(t['code']) >= 16
        assert isinstance(t['eta_minutes'], int) and t['eta_minutes'] >= 0
        assert t['window_number'] is None and t['called_at'] is None
        assert t['track_path'] == f'/track/{t["code"]}'
    assert first['service_code'] == 'SVC-A' and other['service_code'] == 'SVC-B'
    assert (first['position'], second['position']) == (1, 2)
    assert second['ahead'] == 1
    assert len({first['code'], second['code'], other['code']}) == 3

    fetched = await ticket(client, first)
    assert {k: fetched[k] for k in ('number', 'status', 'service_code', 'position')} == {
        k: first[k] for k in ('number', 'status', 'service_code', 'position')
    }
    assert 'code' not in fetched and 'track_path' not in fetched  # status only
    assert_error(await client.get('/api/tickets/no-such-code'), 403, 'tracking_refused')


async def test_hall_lists_windows_and_services_with_queues(client: httpx.AsyncClient, small: SmallHall) -> None:
    before = await hall(client)
    windows = {w['number']: w for w in before['windows']}
    assert sorted(windows) == [1, 2, 3, 4]
    assert windows[1]['id'] == small.window_1 and windows[1]['services'] == ['SVC-A', 'SVC-B']
    assert windows[3]['state'] == 'closed' and windows[1]['state'] == 'open'
    assert all(w['current_number'] is None for w in before['windows'])
    services = {s['code']: s for s in before['services']}
    assert sorted(services) == ['SVC-A', 'SVC-B', 'SVC-C']
    assert services['SVC-A']['prefix'] == 'A' and services['SVC-A']['waiting'] == 0
    assert all('eta_minutes' in s for s in before['services'])

    await take(client)
    await take(client)
    await take(client, 'SVC-C')
    after = await hall(client)
    assert waiting(after) == {'SVC-A': 2, 'SVC-B': 0, 'SVC-C': 1}
    services = {s['code']: s for s in after['services']}
    assert isinstance(services['SVC-A']['eta_minutes'], int)
    assert services['SVC-A']['oldest_wait_minutes'] == 0


# ---- auth -------------------------------------------------------------------------------------


async def test_login_gives_a_token_and_bad_passwords_are_refused(client: httpx.AsyncClient, small: SmallHall) -> None:
    response = await client.post('/api/auth/token', json={'username': 'w01', 'password': W01[1]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['token_type'] == 'bearer' and len(body['access_token']) >= 32
    assert body['role'] == 'staff' and body['window_id'] == small.window_1
    assert dt.datetime.fromisoformat(body['expires_at']) > dt.datetime.now(dt.UTC)

    assert_error(
        await client.post('/api/auth/token', json={'username': 'w01', 'password': 'nope'}), 401, 'bad_credentials'
    )
    unknown = await client.post('/api/auth/token', json={'username': 'ghost', 'password': 'nope'})
    assert_error(unknown, 401, 'bad_credentials')


def client_from(address: str) -> httpx.AsyncClient:
    """Another client of the same in-process app, seen from another address (lockouts are per address too)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(core.app, client=(address, 50000)), base_url='http://test')


async def test_five_failures_lock_the_account_from_that_address_only(client: httpx.AsyncClient) -> None:
    async with client_from('10.0.0.1') as first, client_from('10.0.0.2') as second:
        for _ in range(5):
            bad = await first.post('/api/auth/token', json={'username': 'w01', 'password': 'wrong-password'})
            assert_error(bad, 401, 'bad_credentials')
        # from the failing terminal the right password does not help for this account
        locked = await first.post('/api/auth/token', json={'username': 'w01', 'password': W01[1]})
        assert_error(locked, 429, 'login_locked')
        assert int(locked.headers['retry-after']) > 0
        # the owner at another terminal, and other accounts at this one, are not affected
        await login(second, W01)
        await login(first, BOSS)


async def test_failures_spread_over_accounts_lock_the_address(client: httpx.AsyncClient) -> None:
    async with client_from('10.0.0.3') as guesser, client_from('10.0.0.4') as other:
        for n in range(30):
            assert_error(
                await guesser.post('/api/auth/token', json={'username': f'name{n}', 'password': 'Guess-1234'}),
                401,
                'bad_credentials',
            )
        assert_error(
            await guesser.post('/api/auth/token', json={'username': 'w01', 'password': W01[1]}), 429, 'address_locked'
        )
        await login(other, W01)  # no account was locked


async def test_logout_revokes_the_token(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    await take(client)
    assert (await client.post('/api/auth/logout', headers=headers)).status_code == 204
    before = await hall(client)
    replay = await client.post(f'/api/windows/{small.window_1}/call-next', headers=headers)
    assert_error(replay, 401, 'session_expired')
    assert state_of(await hall(client)) == state_of(before)
    assert_error(await client.post('/api/auth/logout'), 401, 'not_authenticated')


# ---- window operations ------------------------------------------------------------------------


async def test_call_next_needs_a_token_of_this_window(client: httpx.AsyncClient, small: SmallHall) -> None:
    first = await take(client)
    before = await hall(client)
    url = f'/api/windows/{small.window_1}/call-next'
    assert_error(await client.post(url), 401, 'not_authenticated')
    assert_error(await client.post(url, headers={'Authorization': 'Bearer forged-token'}), 401, 'not_authenticated')
    assert_error(await client.post(url, headers={'Authorization': 'Basic dzAxOng='}), 401, 'not_authenticated')
    assert_error(await client.post(url, headers=await login(client, W02)), 403, 'not_your_window')
    assert_error(await client.post(url, headers=await login(client, REVIEWER)), 403, 'forbidden')
    assert state_of(await hall(client)) == state_of(before)
    assert (await ticket(client, first))['status'] == 'waiting'

    called = await client.post(url, headers=await login(client, W01))
    assert called.status_code == 200, called.text
    body = called.json()
    assert body['number'] == first['number'] == 'A001' and 'code' not in body and 'track_path' not in body
    assert body['status'] == 'called' and body['window_number'] == 1
    assert body['position'] is None and body['called_at'] is not None
    assert current(await hall(client))[1] == 'A001'


async def test_empty_queue_and_busy_window(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    assert_error(await client.post(f'{url}/call-next', headers=headers), 404, 'queue_empty')
    await take(client)
    await take(client)
    assert (await client.post(f'{url}/call-next', headers=headers)).json()['number'] == 'A001'
    before = await hall(client)
    assert_error(await client.post(f'{url}/call-next', headers=headers), 409, 'window_busy')
    assert state_of(await hall(client)) == state_of(before)


async def test_complete_twice_is_refused(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    taken = await take(client)
    await client.post(f'{url}/call-next', headers=headers)
    done = await client.post(f'{url}/complete', headers=headers)
    assert done.status_code == 200, done.text
    assert done.json()['status'] == 'completed' and done.json()['completed_at'] is not None
    before = await hall(client)
    assert_error(await client.post(f'{url}/complete', headers=headers), 409, 'no_current_ticket')
    assert state_of(await hall(client)) == state_of(before)
    assert (await ticket(client, taken))['status'] == 'completed'
    assert current(before)[1] is None


async def test_no_show_needs_recalls_first(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    taken = await take(client)
    await client.post(f'{url}/call-next', headers=headers)
    assert_error(await client.post(f'{url}/no-show', headers=headers), 409, 'recall_first')
    assert (await ticket(client, taken))['status'] == 'called'
    limit = get_settings().recalls_before_no_show
    queue = (await ready()).queue
    for _ in range(limit):
        assert_error(await client.post(f'{url}/recall', headers=headers), 409, 'recall_too_soon')  # time, not clicks
        pass_recall_interval(queue)
        recalled = await client.post(f'{url}/recall', headers=headers)
        assert recalled.status_code == 200, recalled.text
        assert recalled.json()['status'] == 'called' and recalled.json()['number'] == 'A001'
    assert_error(await client.post(f'{url}/recall', headers=headers), 409, 'recall_limit')
    assert_error(await client.post(f'{url}/no-show', headers=headers), 409, 'no_show_too_soon')
    pass_recall_interval(queue)
    gone = await client.post(f'{url}/no-show', headers=headers)
    assert gone.status_code == 200, gone.text
    assert gone.json()['status'] == 'no_show'
    assert current(await hall(client))[1] is None
    assert_error(await client.post(f'{url}/recall', headers=headers), 409, 'no_current_ticket')


async def test_transfer_only_to_a_window_that_serves_it(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    taken = await take(client)
    await client.post(f'{url}/call-next', headers=headers)
    before = await hall(client)

    refused = await client.post(f'{url}/transfer', headers=headers, json={'window_id': small.window_2})
    assert_error(refused, 409, 'service_not_served')
    unknown = await client.post(f'{url}/transfer', headers=headers, json={'service_code': 'NOPE'})
    assert_error(unknown, 404, 'unknown_service')
    assert_error(await client.post(f'{url}/transfer', headers=headers, json={}), 422, 'transfer_target_required')
    assert state_of(await hall(client)) == state_of(before)
    assert (await ticket(client, taken))['status'] == 'called'

    moved = await client.post(
        f'{url}/transfer',
        headers=headers,
        json={'service_code': 'SVC-B', 'window_id': small.window_2, 'reason': '材料在乙窗口'},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()['status'] == 'waiting' and moved.json()['service_code'] == 'SVC-B'
    assert moved.json()['number'] == 'A001'  # the citizen keeps their number
    assert current(await hall(client))[1] is None
    # window 1 also serves B, but the ticket was sent to window 2 only
    assert_error(await client.post(f'{url}/call-next', headers=headers), 404, 'queue_empty')
    at_two = await client.post(f'/api/windows/{small.window_2}/call-next', headers=await login(client, W02))
    assert at_two.status_code == 200, at_two.text
    assert at_two.json()['number'] == taken['number'] and at_two.json()['window_number'] == 2


async def test_call_named_ticket_out_of_order_needs_a_reason(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}/call'
    first = await take(client)
    second = await take(client)
    before = await hall(client)
    assert_error(await client.post(url, headers=headers, json={'number': 'A002'}), 422, 'invalid_request')
    assert_error(
        await client.post(url, headers=headers, json={'number': 'A002', 'reason': '   '}), 422, 'reason_required'
    )
    assert_error(await client.post(url, headers=headers, json={'number': 'A999', 'reason': 'x'}), 404, 'unknown_ticket')
    assert_error(await client.post(url, headers=headers, json={'number': 'C001', 'reason': 'x'}), 404, 'unknown_ticket')
    assert state_of(await hall(client)) == state_of(before)

    called = await client.post(url, headers=headers, json={'number': 'a002', 'reason': '老人需要协助'})
    assert called.status_code == 200, called.text
    assert called.json()['number'] == second['number'] and called.json()['status'] == 'called'
    assert 'code' not in called.json(), "an out-of-order call never hands a clerk the citizen's code"
    assert (await ticket(client, first))['position'] == 1
    await client.post(f'/api/windows/{small.window_1}/complete', headers=headers)
    again = await client.post(url, headers=headers, json={'number': 'A002', 'reason': 'again'})
    assert_error(again, 409, 'ticket_not_waiting')


async def test_park_and_resume(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    parked_ticket = await take(client)
    later = await take(client)
    await client.post(f'{url}/call-next', headers=headers)
    parked = await client.post(f'{url}/park', headers=headers, json={'reason': '补材料'})
    assert parked.status_code == 200 and parked.json()['status'] == 'parked'
    assert (await client.post(f'{url}/call-next', headers=headers)).json()['number'] == later['number']
    assert_error(await client.post(f'{url}/resume', headers=headers, json={'number': 'A001'}), 409, 'window_busy')
    await client.post(f'{url}/complete', headers=headers)
    resumed = await client.post(f'{url}/resume', headers=headers, json={'number': 'A001'})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()['number'] == parked_ticket['number'] and resumed.json()['status'] == 'called'


async def test_window_state_changes_refused_while_busy(client: httpx.AsyncClient, small: SmallHall) -> None:
    headers = await login(client, W01)
    url = f'/api/windows/{small.window_1}'
    await take(client)
    await take(client)
    await client.post(f'{url}/call-next', headers=headers)
    before = await hall(client)
    assert_error(await client.post(f'{url}/state', headers=headers, json={'state': 'paused'}), 409, 'window_busy')
    assert_error(await client.post(f'{url}/state', headers=headers, json={'state': 'closed'}), 409, 'window_busy')
    assert_error(await client.post(f'{url}/state', headers=headers, json={'state': 'asleep'}), 422, 'invalid_request')
    assert state_of(await hall(client)) == state_of(before)

    await client.post(f'{url}/complete', headers=headers)
    paused = await client.post(f'{url}/state', headers=headers, json={'state': 'paused'})
    assert paused.status_code == 200 and paused.json() == {'state': 'paused'}
    assert _states(await hall(client))[1] == 'paused'
    assert_error(await client.post(f'{url}/call-next', headers=headers), 409, 'window_not_open')
    assert waiting(await hall(client))['SVC-A'] == 1
    reopened = await client.post(f'{url}/state', headers=headers, json={'state': 'open'})
    assert reopened.json() == {'state': 'open'}
    assert (await client.post(f'{url}/call-next', headers=headers)).json()['number'] == 'A002'


# ---- bad input: refused with code + message, nothing changed ----------------------------------


def _id_with_check_digit(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + '0')


def _wrong_checksum(number: str) -> str:
    return number[:-1] + ('0' if number[-1] != '0' else '1')


INVALID_IDS = {
    'checksum': _wrong_checksum(make_id(dt.date(1980, 5, 17))),
    'impossible_date': _id_with_check_digit('11010519990230123'),  # 30 February
    'month_13': _id_with_check_digit('11010519991301123'),
    'unknown_region': make_id(dt.date(1980, 5, 17), region='000000'),
    'future_birth': make_id(dt.date(2099, 1, 1)),
    'too_short': make_id(dt.date(1980, 5, 17))[:-1],
    'letters': 'abcdefghijklmnopqr',
}


async def test_invalid_id_numbers_are_refused(client: httpx.AsyncClient) -> None:
    before = state_of(await hall(client))
    headers = await desk(client)
    for case, id_number in INVALID_IDS.items():
        response = await client.post(
            '/api/tickets', json={'service_code': 'SVC-A', 'id_number': id_number}, headers=headers
        )
        assert response.status_code == 422, f'{case}: {response.status_code} {response.text}'
        assert_error(response, 422, 'invalid_id_number')
        assert state_of(await hall(client)) == before, case
    assert (await take(client))['number'] == 'A001'  # no number was used up


async def test_id_number_with_a_prefecture_only_region_is_refused(client: httpx.AsyncClient) -> None:
    id_number = make_id(dt.date(1980, 5, 17), region='119999')
    response = await client.post(
        '/api/tickets', json={'service_code': 'SVC-A', 'id_number': id_number}, headers=await desk(client)
    )
    assert_error(response, 422, 'invalid_id_number')


async def test_valid_id_number_of_an_elderly_citizen_is_green(client: httpx.AsyncClient) -> None:
    young = await take(client, id_number=make_id(dt.date(1990, 5, 1)))
    old = await take(client, id_number=make_id(dt.date(1940, 5, 1), sequence='456'))
    assert young['priority_class'] == 'normal' and old['priority_class'] == 'green'
    assert old['position'] == 1 and (await ticket(client, young))['position'] == 2


async def test_unknown_service_and_window_are_refused(client: httpx.AsyncClient, small: SmallHall) -> None:
    await take(client)
    before = await hall(client)
    assert_error(await client.post('/api/tickets', json={'service_code': 'NOPE'}), 404, 'unknown_service')
    boss = await login(client, BOSS)
    for action in ('call-next', 'recall', 'complete', 'no-show'):
        assert_error(await client.post(f'/api/windows/9999/{action}', headers=boss), 404, 'unknown_window')
    assert_error(
        await client.post('/api/windows/9999/state', headers=boss, json={'state': 'open'}), 404, 'unknown_window'
    )
    assert_error(await client.post('/api/windows/abc/call-next', headers=boss), 422, 'invalid_request')
    assert state_of(await hall(client)) == state_of(before)
    assert (await take(client))['number'] == 'A002'


async def test_calling_at_a_closed_window_is_refused(client: httpx.AsyncClient, small: SmallHall) -> None:
    taken = await take(client)
    before = await hall(client)
    response = await client.post(f'/api/windows/{small.window_3}/call-next', headers=await login(client, BOSS))
    assert_error(response, 409, 'window_not_open')
    assert state_of(await hall(client)) == state_of(before)
    assert (await ticket(client, taken))['status'] == 'waiting'


async def test_malformed_json_is_refused(client: httpx.AsyncClient) -> None:
    before = await hall(client)
    for raw in (b'{"service_code": ', b'not json', b'{"service_code": "SVC-A",}'):
        response = await client.post('/api/tickets', content=raw, headers={'Content-Type': 'application/json'})
        assert_error(response, 400, 'malformed_json')
    login_response = await client.post('/api/auth/token', content=b'{', headers={'Content-Type': 'application/json'})
    assert_error(login_response, 400, 'malformed_json')
    assert state_of(await hall(client)) == state_of(before)
    assert (await take(client))['number'] == 'A001'


WRONG_BODIES: dict[str, object] = {
    'int': {'service_code': 123},
    'list': {'service_code': ['SVC-A']},
    'bool': {'service_code': 'SVC-A', 'disability': 'very'},
    'enum': {'service_code': 'SVC-A', 'channel': 'fax'},
    'phone_int': {'service_code': 'SVC-A', 'phone': 13800138000},
    'too_long': {'service_code': 'X' * 33},
    'missing': {},
    'array': ['SVC-A'],
    'string': 'SVC-A',
    'null': None,
}


async def test_wrong_types_are_refused(client: httpx.AsyncClient) -> None:
    before = state_of(await hall(client))
    for case, body in WRONG_BODIES.items():
        response = await client.post('/api/tickets', json=body)
        assert response.status_code == 422, f'{case}: {response.status_code} {response.text}'
        error = assert_error(response, 422, 'invalid_request')
        assert isinstance(error['fields'], list) and error['fields'], case
        assert state_of(await hall(client)) == before, case
    assert (await take(client))['number'] == 'A001'


async def test_login_with_wrong_types_is_refused(client: httpx.AsyncClient) -> None:
    for body in ({'username': 'w01'}, {'username': 'w01', 'password': 12345678901}, {'username': '', 'password': 'x'}):
        assert_error(await client.post('/api/auth/token', json=body), 422, 'invalid_request')


async def test_oversized_body_with_content_length(client: httpx.AsyncClient) -> None:
    limit = get_settings().max_body_bytes
    before = await hall(client)
    body = b'{"service_code": "SVC-A", "name": "' + b'x' * (limit + 10) + b'"}'
    response = await client.post('/api/tickets', content=body, headers={'Content-Type': 'application/json'})
    assert_error(response, 413, 'body_too_large')
    assert state_of(await hall(client)) == state_of(before)
    assert (await take(client))['number'] == 'A001'


async def test_oversized_body_chunked(client: httpx.AsyncClient) -> None:
    limit = get_settings().max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"service_code": "SVC-A", "name": "'
        for _ in range(limit // 4096 + 2):
            yield b'x' * 4096
        yield b'"}'

    before = await hall(client)
    request = client.build_request(
        'POST', '/api/tickets', content=chunks(), headers={'Content-Type': 'application/json'}
    )
    assert 'content-length' not in request.headers and request.headers['transfer-encoding'] == 'chunked'
    response = await client.send(request)
    assert_error(response, 413, 'body_too_large')
    assert state_of(await hall(client)) == state_of(before)
    assert (await take(client))['number'] == 'A001'


async def test_body_just_under_the_limit_is_read(client: httpx.AsyncClient) -> None:
    """The limit refuses only what exceeds it: a big-but-allowed body reaches validation (name too long)."""
    body = b'{"service_code": "SVC-A", "name": "' + b'x' * 1000 + b'"}'
    response = await client.post('/api/tickets', content=body, headers={'Content-Type': 'application/json'})
    assert_error(response, 422, 'invalid_request')


@pytest.fixture(scope='module')
def live_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app as a real process behind uvicorn (body limits depend on how the server streams bodies)."""
    with running_app(tmp_path_factory.mktemp('live-app')) as (app, _):
        yield app


def _oversized_chunks(limit: int) -> Iterator[bytes]:
    yield b'{"service_code": "SVC-A", "name": "'
    for _ in range(limit // 4096 + 2):
        yield b'x' * 4096
    yield b'"}'


@pytest.mark.parametrize(
    'framing',
    ['content_length', 'chunked'],
)
def test_oversized_body_over_a_real_socket(live_app: AppProcess, framing: str) -> None:
    limit = get_settings().max_body_bytes
    body = b''.join(_oversized_chunks(limit)) if framing == 'content_length' else _oversized_chunks(limit)
    with live_app.client() as http:
        before = http.get('/api/hall').json()
        response = http.post('/api/tickets', content=body, headers={'Content-Type': 'application/json'})
        assert_error(response, 413, 'body_too_large')
        assert state_of(http.get('/api/hall').json()) == state_of(before)
        assert http.post('/api/tickets', json={'service_code': 'SVC-A'}).status_code == 201  # connection still usable


# ---- the users CLI ----------------------------------------------------------------------------


def _users_cli(url: str, password: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
    env['DATABASE_URL'] = url
    return subprocess.run(
        [sys.executable, '-m', 'app.users', 'add', *args],
        input=password + '\n',
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
        check=False,
    )


async def test_users_cli_adds_an_account_that_can_log_in(
    client: httpx.AsyncClient, api_hall: ApiHall, small: SmallHall
) -> None:
    created = await asyncio.to_thread(
        _users_cli, api_hall.url, 'Counter-Two-9', 'w22', '--role', 'staff', '--window', '2'
    )
    assert created.returncode == 0, created.stderr
    assert 'w22' in created.stdout and 'Counter-Two-9' not in created.stdout + created.stderr
    response = await client.post('/api/auth/token', json={'username': 'w22', 'password': 'Counter-Two-9'})
    assert response.status_code == 200, response.text
    assert response.json()['role'] == 'staff' and response.json()['window_id'] == small.window_2
    headers = {'Authorization': f'Bearer {response.json()["access_token"]}'}
    await take(client, 'SVC-B')
    assert (await client.post(f'/api/windows/{small.window_2}/call-next', headers=headers)).json()['number'] == 'B001'

    weak, duplicate, no_window = await asyncio.gather(
        asyncio.to_thread(_users_cli, api_hall.url, 'short', 'w23', '--role', 'staff', '--window', '2'),
        asyncio.to_thread(_users_cli, api_hall.url, 'Another-Pass-1', 'w22', '--role', 'staff'),
        asyncio.to_thread(_users_cli, api_hall.url, 'Another-Pass-1', 'w24', '--role', 'staff', '--window', '99'),
    )
    assert weak.returncode == 1 and weak.stderr
    assert duplicate.returncode == 1 and 'w22' in duplicate.stderr
    assert no_window.returncode == 1 and '99' in no_window.stderr
    for name in ('w23', 'w24'):
        refused = await client.post('/api/auth/token', json={'username': name, 'password': 'Another-Pass-1'})
        assert_error(refused, 401, 'bad_credentials')


def test_ticket_routes_sent_as_json_still_document_their_bodies() -> None:
    """The ticket routes return their answer serialised once (app/api/schemas.py `sent`): /docs keeps the models."""
    app = FastAPI()
    app.include_router(router)
    paths = app.openapi()['paths']

    def body(path: str, method: str, status: str) -> Any:
        return paths[path][method]['responses'][status]['content']['application/json']['schema']

    assert body('/api/tickets', 'post', '201') == {'$ref': '#/components/schemas/TrackedTicketOut'}
    assert body('/api/tickets/{code}', 'get', '200') == {'$ref': '#/components/schemas/TicketOut'}
    for action in ('call-next', 'call', 'recall', 'no-show', 'complete', 'transfer', 'park', 'resume'):
        assert body(f'/api/windows/{{window_id}}/{action}', 'post', '200') == {'$ref': '#/components/schemas/TicketOut'}
