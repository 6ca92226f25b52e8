"""Staff accounts against the real app, as an attacker would try them.

Nobody but an admin reaches the staff tab of /admin (no session: the login page; a clerk's or a manager's
session: 403), and their tries change no account. An operator disabling a clerk from the command line ends
the clerk's token at once, for pages and the API alike, and the clerk's password no longer logs in; a reset
ends the old token too, and a one-time password opens no session until a new password replaces it.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Iterator
from contextlib import closing

import httpx
import pytest

from app.db import Database
from app.models.people import Role
from app.services.principal import Principal
from app.services.staff_admin import StaffAdminService
from app.settings import get_settings
from app.users import main
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.callers import deps_for
from tests.conftest import AUDIT_KEY
from tests.security.routes import assert_error, bearer, session_rows, sqlite_path
from tests.totp import token_body_async

ADMIN = NewUser('sa01', 'Staff-Admin-01', role=Role.ADMIN)
CLERK = NewUser('sk02', 'Staff-Clerk-02', window=2)
OTHER = NewUser('sk03', 'Staff-Clerk-03', window=2)
FRESH = NewUser('sk04', 'Staff-Clerk-04', window=4)
BOSS = ('boss', 'Manager-01-pass')
SESSION_COOKIE = 'ht_session'


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    users = [ADMIN, CLERK, OTHER, FRESH]
    with running_app(tmp_path_factory.mktemp('staff-accounts'), users=users) as (app, prepared):
        yield app, prepared


def accounts(prepared: PreparedDatabase) -> list[tuple[object, ...]]:
    """Every account as stored, password hash included: a refused try must leave all of it alone."""
    with closing(sqlite3.connect(sqlite_path(prepared.url), timeout=30)) as db:
        return db.execute('SELECT * FROM staff_user ORDER BY id').fetchall()


def cookie(token: str) -> dict[str, str]:
    """The session cookie a browser sends with each page request."""
    return {'Cookie': f'{SESSION_COOKIE}={token}'}


async def token_of(api: httpx.AsyncClient, who: tuple[str, str]) -> str:
    issued = await token_body_async(api, *who)
    assert issued.status_code == 200, issued.text
    return str(issued.json()['access_token'])


async def operator(prepared: PreparedDatabase, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = '') -> int:
    """`python -m app.users ...` on the app's database, as an operator on the server would run it."""
    monkeypatch.setenv('DATABASE_URL', prepared.url)
    monkeypatch.setattr('sys.stdin', io.StringIO(stdin))
    get_settings.cache_clear()
    try:
        return await asyncio.to_thread(main, list(argv))
    finally:
        get_settings.cache_clear()


async def test_no_session_a_clerk_or_a_manager_cannot_reach_the_staff_accounts(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    before = accounts(prepared)
    async with app.async_client() as api:
        anonymous = await api.get('/admin', follow_redirects=False)
        assert anonymous.status_code == 303 and anonymous.headers['location'] == '/login?next=/admin'
        for who in ((CLERK.username, CLERK.password), BOSS):
            token = await token_of(api, who)
            refused = await api.get('/admin', headers=cookie(token), follow_redirects=False)
            assert refused.status_code == 403 and '员工账号' not in refused.text
    assert accounts(prepared) == before


async def test_a_disabled_clerks_token_stops_at_once_and_their_password_no_longer_logs_in(
    live: tuple[AppProcess, PreparedDatabase], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, prepared = live
    hall = prepared.small_hall
    assert hall is not None
    desk = f'/window/{hall.window_2}'
    async with app.async_client() as api:
        token = await token_of(api, (CLERK.username, CLERK.password))
        assert (await api.get(desk, headers=cookie(token), follow_redirects=False)).status_code == 200

        assert await operator(prepared, monkeypatch, 'disable', CLERK.username) == 0
        page = await api.get(desk, headers=cookie(token), follow_redirects=False)
        assert page.status_code == 303 and page.headers['location'].startswith('/login')
        called = await api.post(f'/api/windows/{hall.window_2}/call-next', headers=bearer(token))
        assert called.status_code == 401
        login = await token_body_async(api, CLERK.username, CLERK.password)
        assert_error(login, 401, 'bad_credentials')

        assert await operator(prepared, monkeypatch, 'enable', CLERK.username) == 0
        again = await token_of(api, (CLERK.username, CLERK.password))
        assert (await api.get(desk, headers=cookie(again), follow_redirects=False)).status_code == 200
        assert (await api.get(desk, headers=cookie(token), follow_redirects=False)).status_code == 303


async def test_a_reset_ends_the_old_token_and_the_old_password(
    live: tuple[AppProcess, PreparedDatabase], monkeypatch: pytest.MonkeyPatch
) -> None:
    app, prepared = live
    async with app.async_client() as api:
        token = await token_of(api, (OTHER.username, OTHER.password))
        assert await operator(prepared, monkeypatch, 'reset', OTHER.username, stdin='Quite-New-Pass-3\n') == 0
        hall = prepared.small_hall
        assert hall is not None
        called = await api.post(f'/api/windows/{hall.window_2}/call-next', headers=bearer(token))
        assert called.status_code == 401
        assert_error(await token_body_async(api, OTHER.username, OTHER.password), 401, 'bad_credentials')
        await token_of(api, (OTHER.username, 'Quite-New-Pass-3'))


async def test_a_one_time_password_opens_no_session_until_a_new_password_replaces_it(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    db = Database(prepared.url, audit_key=AUDIT_KEY)
    try:
        assert prepared.small_hall is not None
        staff = StaffAdminService(deps_for(db, hall_id=prepared.small_hall.hall_id))
        issued = await staff.reset_password(Principal.cli('tester'), FRESH.username)
    finally:
        await db.dispose()
    one_time = issued.one_time_password
    assert one_time is not None
    before = session_rows(prepared.url)
    async with app.async_client() as api:
        assert_error(await token_body_async(api, FRESH.username, one_time), 401, 'password_change_required')
        for weak in ('short', one_time):
            body = {'username': FRESH.username, 'password': one_time, 'new_password': weak}
            refused = await api.post('/api/auth/token', json=body)
            assert refused.status_code == 422 and refused.json()['code'] in ('weak_password', 'password_unchanged')
        assert session_rows(prepared.url) == before
        body = {'username': FRESH.username, 'password': FRESH.password, 'new_password': 'Other-New-Pass-4'}
        assert_error(await api.post('/api/auth/token', json=body), 401, 'bad_credentials')
        body = {'username': FRESH.username, 'password': one_time, 'new_password': 'Other-New-Pass-4'}
        assert (await api.post('/api/auth/token', json=body)).status_code == 200
        assert_error(await token_body_async(api, FRESH.username, one_time), 401, 'bad_credentials')
        await token_of(api, (FRESH.username, 'Other-New-Pass-4'))
