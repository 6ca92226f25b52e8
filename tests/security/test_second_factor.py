"""The second factor, attacked over HTTP on a running app: a password alone opens nothing of a manager's.

boss has the fixed test secret (tests/totp.py); fresh01 is a manager who never enrolled; each test
speaks from its own address (X-Forwarded-For behind a trusted proxy) so lockouts stay apart.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from app.api.web_session import SESSION_COOKIE
from app.models.people import Role
from app.services import second_factor
from tests.apphost import AppProcess, NewUser, prepare_database, sqlite_url, start_app
from tests.conftest import audited
from tests.security.routes import assert_error, audit_rows, bearer, sqlite_path
from tests.totp import code, person

BOSS = ('boss', 'Manager-01-pass')
FRESH = NewUser('fresh01', 'Fresh-0001-pass', role=Role.MANAGER)
MANAGER_DATA = '/api/ops/counters'


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, str]]:
    tmp = tmp_path_factory.mktemp('second-factor')
    prepared = prepare_database(sqlite_url(tmp / 'hall.db'), users=[FRESH])
    with closing(sqlite3.connect(sqlite_path(prepared.url))) as db, db:
        db.execute("DELETE FROM staff_totp WHERE user_id = (SELECT id FROM staff_user WHERE username = 'fresh01')")
    with start_app(prepared.url, tmp, {'TRUSTED_PROXIES': '127.0.0.1'}) as app:
        yield app, prepared.url


def _login(client: httpx.Client, who: tuple[str, str], address: str, totp: str | None = None) -> httpx.Response:
    body = {'username': who[0], 'password': who[1]} | ({'totp': totp} if totp is not None else {})
    return client.post('/api/auth/token', json=body, headers={'x-forwarded-for': address})


def _sessions_of(url: str, username: str) -> int:
    with closing(sqlite3.connect(sqlite_path(url))) as db:
        query = 'SELECT count(*) FROM auth_session s JOIN staff_user u ON u.id = s.user_id WHERE u.username = ?'
        return int(db.execute(query, (username,)).fetchone()[0])


def test_the_right_password_alone_opens_no_session_and_no_manager_data(live: tuple[AppProcess, str]) -> None:
    app, url = live
    before = _sessions_of(url, 'boss')
    with app.client() as client:
        body = assert_error(_login(client, BOSS, '10.9.0.1'), 401, 'second_factor_required')
        assert 'access_token' not in body
        assert_error(client.get(MANAGER_DATA), 401, 'not_authenticated')
        page = client.get('/manager', follow_redirects=False)
        assert page.status_code == 303 and page.headers['location'].startswith('/login')
    assert _sessions_of(url, 'boss') == before


def test_an_unenrolled_manager_gets_only_the_enrolment_page(live: tuple[AppProcess, str]) -> None:
    app, _ = live
    with app.client() as client:
        issued = _login(client, (FRESH.username, FRESH.password), '10.9.0.2')
        assert issued.status_code == 200, issued.text
        token = issued.json()['access_token']
        assert_error(client.get(MANAGER_DATA, headers=bearer(token)), 401, 'second_factor_enrolment_required')
        assert_error(
            client.post('/api/windows/1/call-next', headers=bearer(token)), 401, 'second_factor_enrolment_required'
        )
        client.cookies.set(SESSION_COOKIE, token)
        page = client.get('/manager', follow_redirects=False)
        assert (page.status_code, page.headers['location']) == (303, '/enrol?next=/manager')
        assert client.get('/enrol').status_code == 200


def test_a_wrong_code_is_refused_counted_and_locks_like_a_wrong_password(live: tuple[AppProcess, str]) -> None:
    app, url = live
    failed_before = len([r for r in audit_rows(url, 'login_failed') if r['outcome'] == 'bad_code'])
    boss = person(app.base_url, 'boss')
    with app.client() as client:
        for guess in ('000000', '123456', '999999', '111111', '654321'):
            assert_error(_login(client, BOSS, '10.9.0.3', guess), 401, 'bad_second_factor')
        assert_error(_login(client, BOSS, '10.9.0.3', code(boss)), 429, 'login_locked')  # even the right code now
        assert _login(client, BOSS, '10.9.0.4', code(boss)).status_code == 200  # another address is not locked out
    failed = [r for r in audit_rows(url, 'login_failed') if r['outcome'] == 'bad_code']
    assert len(failed) - failed_before == 5 and {r['client_address'] for r in failed[-5:]} == {audited('10.9.0.3')}
    assert any(r['client_address'] == audited('10.9.0.3') for r in audit_rows(url, 'lockout'))


def test_a_used_code_cannot_be_replayed_even_from_elsewhere(live: tuple[AppProcess, str]) -> None:
    app, _ = live
    seen = code(person(app.base_url, 'boss'))
    with app.client() as client:
        assert _login(client, BOSS, '10.9.0.5', seen).status_code == 200
        assert_error(_login(client, BOSS, '10.9.0.6', seen), 401, 'bad_second_factor')


def test_a_recovery_code_works_once_and_is_audited(live: tuple[AppProcess, str]) -> None:
    app, url = live
    recovery = second_factor.new_recovery_codes()[0]
    with closing(sqlite3.connect(sqlite_path(url))) as db, db:
        db.execute(
            "INSERT INTO staff_recovery_code (user_id, code_hash) SELECT id, ? FROM staff_user WHERE username = 'boss'",
            (second_factor.recovery_hash(recovery),),
        )
    with app.client() as client:
        assert _login(client, BOSS, '10.9.0.7', recovery.lower()).status_code == 200
        assert_error(_login(client, BOSS, '10.9.0.8', recovery), 401, 'bad_second_factor')
    used = audit_rows(url, second_factor.RECOVERY_CODE_USED)
    assert [(r['actor'], r['client_address']) for r in used] == [('boss', audited('10.9.0.7'))]
