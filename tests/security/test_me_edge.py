""" "我的" attacked over real HTTP: no token, a staff token, a forged or ended citizen token, another phone's file.

One running app (tests/apphost.py) behind a pretend proxy, so each citizen signs in from an address of its own
(the real flow: the code read from the app's SMS outbox).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.citizen_login import citizen_token
from tests.midday import midday_zone
from tests.security.routes import assert_error, bearer, token

BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    env = {'TRUSTED_PROXIES': '127.0.0.1', 'HALL_TIMEZONE': midday_zone()}  # remote tickets need the hall open
    with running_app(tmp_path_factory.mktemp('me-edge'), extra_env=env) as hall:
        yield hall


def outbox(app: AppProcess) -> Path:
    return app.tmp_dir / 'var' / 'sms-outbox.jsonl'


def signed_in(app: AppProcess, phone: str, address: str) -> dict[str, str]:
    with httpx.Client(base_url=app.base_url, headers={'x-forwarded-for': address}) as client:
        return {**bearer(asyncio.run(citizen_token(client, phone, outbox(app)))), 'x-forwarded-for': address}


def test_without_a_citizen_token_the_file_is_refused(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with httpx.Client(base_url=app.base_url) as client:
        assert_error(client.get('/api/me'), 401, 'citizen_sign_in_required')
        assert_error(client.get('/api/me', headers=bearer('c.' + 'A' * 43)), 401, 'not_authenticated')
        assert_error(client.get('/api/me', headers={'authorization': 'Basic eDp5'}), 401, 'not_authenticated')
        staff = bearer(token(client, BOSS))
        assert_error(client.get('/api/me', headers=staff), 401, 'citizen_sign_in_required')


def test_a_phone_sees_only_its_own_tickets_and_an_ended_session_sees_nothing(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    mine = signed_in(app, '13700000001', '10.61.0.1')
    theirs = signed_in(app, '13700000002', '10.61.0.2')
    with httpx.Client(base_url=app.base_url) as client:
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A', 'channel': 'mobile'}, headers=theirs)
        assert taken.status_code == 201, taken.text
        number = taken.json()['number']

        their_file = client.get('/api/me', headers=theirs)
        assert their_file.status_code == 200
        assert [t['number'] for t in their_file.json()['tickets']] == [number]
        assert their_file.json()['linked'] is False

        my_file = client.get('/api/me', headers=mine)
        assert my_file.status_code == 200 and my_file.json()['tickets'] == []

        assert client.request('DELETE', '/api/citizen/session', headers=theirs).status_code == 204
        assert_error(client.get('/api/me', headers=theirs), 401, 'session_expired')


def test_the_page_sends_a_visitor_without_the_cookie_to_sign_in(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with httpx.Client(base_url=app.base_url) as client:
        for cookie in ({}, {'halltwin_citizen': 'c.forged-token'}, {'halltwin_citizen': 'not-even-a-citizen'}):
            client.cookies.clear()
            client.cookies.update(cookie)
            response = client.get('/me', follow_redirects=False)
            assert response.status_code == 303, response.text
            assert response.headers['location'].startswith('/me/login?next=/me')
