"""Sessions: idle and absolute timeouts, rotation, logout, lockouts, the login hand-off and `next` redirects.

Timeouts and lockout windows run on the service with a fake clock; lockouts, logout and the cookie
hand-off are also checked over HTTP against the real app. Chromium logins are in e2e/test_security.py.
Each refusal is checked together with what must not have changed (no new session, no reset counters).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import itsdangerous
import pytest
from fastapi import FastAPI
from sqlmodel import col, select
from starlette.middleware.sessions import SessionMiddleware

from app.api import web_session
from app.api.web_session import SESSION_COOKIE, safe_next
from app.db import Database
from app.models.people import AuthSession, Role, StaffUser
from app.models.security import AuditEntry
from app.runtime import Startup
from app.services import audit
from app.services.auth import (
    LOCKOUT,
    LOGIN_PER_ACCOUNT_AND_ADDRESS,
    LOGIN_PER_ADDRESS,
    SLOW_AFTER,
    TOUCH_EVERY,
    AuthService,
    LoginHandoff,
    token_hash,
)
from app.services.errors import Unauthorized
from app.services.limits import TooManyRequests
from app.settings import Settings
from tests import totp
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.callers import deps_for
from tests.conftest import FakeClock, audited
from tests.factories import SmallHall
from tests.security.routes import (
    all_audit_rows,
    assert_error,
    audit_rows,
    bearer,
    db_state,
    session_rows,
    token,
)
from tests.totp import token_body

W01 = ('w01', 'Window-01-pass')
BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture
def auth(db: Database, hall: SmallHall, settings: Settings, clock: FakeClock) -> AuthService:
    return AuthService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))


async def _sessions(db: Database) -> list[AuthSession]:
    async with db.session() as s:
        return list((await s.execute(select(AuthSession).order_by(col(AuthSession.id)))).scalars().all())


async def _audit(db: Database, action: str) -> list[AuditEntry]:
    async with db.session() as s:
        statement = select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.id))
        return list((await s.execute(statement)).scalars().all())


async def _user(db: Database, username: str) -> StaffUser:
    async with db.session() as s:
        return (await s.execute(select(StaffUser).where(StaffUser.username == username))).scalar_one()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


# ---- timeouts (fake clock) ------------------------------------------------------------------------


async def test_idle_timeout_ends_a_session_and_activity_extends_it(
    auth: AuthService, db: Database, clock: FakeClock, settings: Settings
) -> None:
    assert settings.token_idle_minutes == 30
    issued = await totp.login(auth, *W01)
    for _ in range(3):  # active every 29 minutes: 87 minutes in all, never idle for 30
        clock.advance(29)
        assert (await auth.authenticate(issued.token)).name == 'w01'
    seen = _aware((await _sessions(db))[0].last_seen_at)
    assert seen == clock.now

    clock.advance(30.5)
    with pytest.raises(Unauthorized) as refused:
        await auth.authenticate(issued.token)
    assert refused.value.code == 'session_expired'
    clock.advance(0.1)
    with pytest.raises(Unauthorized):
        await auth.authenticate(issued.token)  # stays refused: the refusal did not refresh last_seen_at
    assert _aware((await _sessions(db))[0].last_seen_at) == seen
    assert (await auth.authenticate((await totp.login(auth, *W01)).token)).name == 'w01'  # a new login works


async def test_activity_is_written_at_most_once_a_minute(auth: AuthService, db: Database, clock: FakeClock) -> None:
    """Page loads seconds apart do not each write the session: idle time is exact to TOUCH_EVERY."""
    issued = await totp.login(auth, *W01)
    login_seen = _aware((await _sessions(db))[0].last_seen_at)
    for _ in range(5):
        clock.advance(0.1)  # 6 seconds
        await auth.authenticate(issued.token)
    assert _aware((await _sessions(db))[0].last_seen_at) == login_seen
    clock.advance(TOUCH_EVERY.total_seconds() / 60)
    await auth.authenticate(issued.token)
    assert _aware((await _sessions(db))[0].last_seen_at) == clock.now


async def test_idle_limit_comes_from_the_settings(db: Database, hall: SmallHall, clock: FakeClock) -> None:
    auth = AuthService(deps_for(db, hall_id=hall.hall_id, settings=Settings(TOKEN_IDLE_MINUTES=5), clock=clock))
    issued = await totp.login(auth, *W01)
    clock.advance(4.9)
    await auth.authenticate(issued.token)
    clock.advance(5.1)
    with pytest.raises(Unauthorized):
        await auth.authenticate(issued.token)


async def test_absolute_timeout_ends_even_an_active_session(
    auth: AuthService, clock: FakeClock, settings: Settings
) -> None:
    assert settings.token_absolute_hours == 12
    start = clock.now
    issued = await totp.login(auth, *BOSS)
    assert issued.expires_at == start + dt.timedelta(hours=12)
    while clock.now + dt.timedelta(minutes=20) <= start + dt.timedelta(hours=12):
        clock.advance(20)
        await auth.authenticate(issued.token)
    clock.now = start + dt.timedelta(hours=12, seconds=1)
    with pytest.raises(Unauthorized) as refused:
        await auth.authenticate(issued.token)
    assert refused.value.code == 'session_expired'


# ---- rotation and logout --------------------------------------------------------------------------


async def test_each_login_rotates_the_token_and_revokes_the_previous_one(auth: AuthService, db: Database) -> None:
    first = await totp.login(auth, *W01)
    second = await totp.login(auth, *W01, previous_token=first.token)
    assert second.token != first.token
    assert second.principal.session_id != first.principal.session_id
    with pytest.raises(Unauthorized):
        await auth.authenticate(first.token)
    assert (await auth.authenticate(second.token)).session_id == second.principal.session_id
    rows = await _sessions(db)
    assert [row.token_hash for row in rows] == [token_hash(first.token), token_hash(second.token)]
    assert rows[0].revoked_at is not None and rows[1].revoked_at is None
    assert first.token not in {row.token_hash for row in rows}  # only hashes are stored


async def test_a_planted_previous_token_of_someone_else_is_revoked_too(auth: AuthService) -> None:
    """Session fixation: whatever session the browser carried before login is worthless after it."""
    planted = await totp.login(auth, *BOSS)
    mine = await totp.login(auth, *W01, previous_token=planted.token)
    with pytest.raises(Unauthorized):
        await auth.authenticate(planted.token)
    assert (await auth.authenticate(mine.token)).name == 'w01'


async def test_logout_revokes_server_side_and_is_audited_once(auth: AuthService, db: Database) -> None:
    issued = await totp.login(auth, *W01)
    await auth.logout(issued.token, client_address='10.1.0.7')
    with pytest.raises(Unauthorized) as refused:
        await auth.authenticate(issued.token)
    assert refused.value.code == 'session_expired'
    await auth.logout(issued.token, client_address='10.1.0.7')  # again: a no-op
    await auth.logout('not-a-token')
    entries = await _audit(db, audit.LOGOUT)
    assert [(e.actor, e.role, e.client_address) for e in entries] == [('w01', 'staff', audited('10.1.0.7'))]
    assert (await audit.verify(db)).ok


# ---- lockout (fake clock) -------------------------------------------------------------------------


async def test_five_failures_lock_that_account_from_that_address_only(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    assert LOCKOUT.total_seconds() == 15 * 60 and LOGIN_PER_ACCOUNT_AND_ADDRESS.max == 5
    for _ in range(5):
        with pytest.raises(Unauthorized) as failed:
            await totp.login(auth, 'w01', 'Wrong-pass-1', client_address='10.2.0.1')
        assert failed.value.code == 'bad_credentials'
    with pytest.raises(TooManyRequests) as locked:
        await totp.login(auth, *W01, client_address='10.2.0.1')  # the right password does not help from here
    assert locked.value.code == 'login_locked' and locked.value.status == 429
    assert 0 < locked.value.retry_after <= 15 * 60
    assert await _sessions(db) == []  # no session was opened
    lockouts = await _audit(db, audit.LOCKOUT)
    expected = [('w01', 'account:w01@address', audited('10.2.0.1'))]
    assert [(e.actor, e.target, e.client_address) for e in lockouts] == expected
    refused = (await _audit(db, audit.LOGIN_FAILED))[-1]
    assert (refused.actor, refused.outcome) == ('w01', 'login_locked')

    # the stranger's typos do not lock the owner out: the same account from another place, and others from here
    assert (await totp.login(auth, *W01, client_address='10.2.9.9')).principal.name == 'w01'
    assert (await totp.login(auth, *BOSS, client_address='10.2.0.1')).principal.name == 'boss'

    clock.advance(14.9)
    with pytest.raises(TooManyRequests):
        await totp.login(auth, *W01, client_address='10.2.0.1')
    clock.advance(0.2)
    assert (await totp.login(auth, *W01, client_address='10.2.0.1')).principal.name == 'w01'
    assert (await audit.verify(db)).ok


async def test_many_failures_from_one_address_lock_it_for_every_account(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    names = [f'guess{n:02d}' for n in range(LOGIN_PER_ADDRESS.max)]  # a spray: one try per name, no pair reaches 5
    for name in names:
        with pytest.raises(Unauthorized):
            await totp.login(auth, name, 'Guess-1234-x', client_address='10.4.0.1')
    with pytest.raises(TooManyRequests) as locked:
        await totp.login(auth, *BOSS, client_address='10.4.0.1')
    assert locked.value.code == 'address_locked'
    assert await _sessions(db) == []
    assert (await totp.login(auth, *BOSS, client_address='10.4.0.2')).principal.name == 'boss'  # other terminals work
    lockouts = await _audit(db, audit.LOCKOUT)
    assert [(e.actor, e.client_address) for e in lockouts] == [(names[-1], audited('10.4.0.1'))]
    clock.advance(15.1)
    assert (await totp.login(auth, *BOSS, client_address='10.4.0.1')).principal.name == 'boss'


async def test_an_account_attacked_from_many_addresses_is_slowed_not_shut(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    attackers = [f'10.6.0.{n}' for n in range(SLOW_AFTER // LOGIN_PER_ACCOUNT_AND_ADDRESS.max)]
    for address in attackers:
        for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max):
            with pytest.raises(Unauthorized):
                await totp.login(auth, 'w01', 'Wrong-pass-1', client_address=address)
    with pytest.raises(TooManyRequests) as slowed:
        await totp.login(auth, *W01, client_address='10.6.9.9')  # the owner, elsewhere: asked to wait a moment
    assert (slowed.value.code, slowed.value.retry_after) == ('account_slowed', 1)
    clock.advance(1.5 / 60)
    assert (await totp.login(auth, *W01, client_address='10.6.9.9')).principal.name == 'w01'  # then it works
    user = await _user(db, 'w01')
    assert (user.failed_attempts, user.locked_until) == (0, None)

    failures = 0
    for address in [f'10.7.0.{n}' for n in range(SLOW_AFTER // LOGIN_PER_ACCOUNT_AND_ADDRESS.max + 1)]:
        for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max):
            waiting = (await _user(db, 'w01')).locked_until
            if waiting is not None and _aware(waiting) > clock.now:
                clock.now = _aware(waiting)
            with pytest.raises(Unauthorized):
                await totp.login(auth, 'w01', 'Wrong-pass-1', client_address=address)
            failures += 1
    locked_until = (await _user(db, 'w01')).locked_until
    assert locked_until is not None
    assert (_aware(locked_until) - clock.now).total_seconds() == 2 ** (failures - SLOW_AFTER)  # doubles each time
    clock.advance(16)  # an attack that stops is forgotten: no wait, no count
    assert (await totp.login(auth, *W01, client_address='10.7.9.9')).principal.name == 'w01'


# ---- HTTP: lockout, logout and replay against the real app --------------------------------------


@dataclass
class LiveHall:
    app: AppProcess
    prepared: PreparedDatabase

    @property
    def url(self) -> str:
        return self.prepared.url


LOCK_USERS = [
    NewUser('lock01', 'Lock-0001-pass'),
    NewUser('lock02', 'Lock-0002-pass'),
    NewUser('out01', 'Out-0001-pass', role=Role.MANAGER),
    NewUser('mask01', 'Mask-0001-pass'),
]


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    """The app behind a (pretend) reverse proxy on 127.0.0.1: X-Forwarded-For names each test's client."""
    with running_app(
        tmp_path_factory.mktemp('sessions'), users=LOCK_USERS, extra_env={'TRUSTED_PROXIES': '127.0.0.1'}
    ) as (app, prepared):
        yield LiveHall(app, prepared)


def _login(client: httpx.Client, username: str, password: str, address: str) -> httpx.Response:
    return token_body(client, username, password, {'x-forwarded-for': address})


def _probe(client: httpx.Client, value: str) -> httpx.Response:
    """An authenticated request that changes nothing: window 3 is closed, so call-next is refused after auth."""
    return client.post('/api/windows/3/call-next', headers=bearer(value))


def test_api_lockout_per_account_and_address_is_audited_and_opens_no_session(live: LiveHall) -> None:
    attacker = '10.50.0.1'
    with live.app.client() as client:
        sessions_before = session_rows(live.url)
        for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max):
            assert_error(_login(client, 'lock01', 'Wrong-pass-1', attacker), 401, 'bad_credentials')
        before = db_state(live.url, ignore=('audit_entry', 'rate_counter'))
        locked = _login(client, 'lock01', 'Lock-0001-pass', attacker)
        assert_error(locked, 429, 'login_locked')
        assert 0 < int(locked.headers['retry-after']) <= 15 * 60
        assert 'access_token' not in locked.json()
        assert session_rows(live.url) == sessions_before
        assert db_state(live.url, ignore=('audit_entry', 'rate_counter')) == before
        lockouts = [row for row in audit_rows(live.url, audit.LOCKOUT) if row['target'] == 'account:lock01@address']
        assert [(row['actor'], row['client_address']) for row in lockouts] == [('lock01', audited(attacker))]
        token(client, ('lock01', 'Lock-0001-pass'), address='10.50.1.1')  # the owner, elsewhere, is not locked out
        token(client, ('lock02', 'Lock-0002-pass'), address=attacker)  # nor is anyone else at that address


def test_api_lockout_per_address_is_audited(live: LiveHall) -> None:
    address = '10.51.0.1'
    with live.app.client() as client:
        for n in range(LOGIN_PER_ADDRESS.max):
            assert_error(_login(client, f'spray{n:02d}', 'Guess-1234-x', address), 401, 'bad_credentials')
        sessions_before = session_rows(live.url)
        assert_error(_login(client, *BOSS, address), 429, 'address_locked')
        assert_error(_login(client, 'lock02', 'Lock-0002-pass', address), 429, 'address_locked')
        assert session_rows(live.url) == sessions_before
        lockouts = [row for row in audit_rows(live.url, audit.LOCKOUT) if row['client_address'] == audited(address)]
        assert [row['actor'] for row in lockouts] == [f'spray{LOGIN_PER_ADDRESS.max - 1:02d}']
        refused = [row for row in audit_rows(live.url, audit.LOGIN_FAILED) if row['client_address'] == audited(address)]
        assert [row['outcome'] for row in refused[-2:]] == ['address_locked', 'address_locked']
        token(client, BOSS, address='10.51.0.2')  # another terminal logs in as usual


def test_behind_a_shared_proxy_a_stranger_cannot_lock_the_staff_out(live: LiveHall) -> None:
    """The reverse proxy of docs/operations.md: every request arrives from 127.0.0.1. One visitor's wrong
    passwords for every predictable clerk name must not keep the clerks themselves from logging in."""
    stranger = '203.0.113.9'
    with live.app.client() as client:
        for name in ('lock01', 'lock02', 'out01'):
            for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max + 2):
                response = _login(client, name, 'Wrong-pass-1', stranger)
                assert response.status_code in (401, 429), response.text
        for who, address in (
            (('lock01', 'Lock-0001-pass'), '198.51.100.7'),
            (('lock02', 'Lock-0002-pass'), '198.51.100.8'),
            (('out01', 'Out-0001-pass'), '198.51.100.9'),
        ):
            issued = token(client, who, address=address)  # each clerk still gets in
            assert client.post('/api/auth/logout', headers=bearer(issued)).status_code == 204


def test_a_forwarded_address_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    """Without TRUSTED_PROXIES, X-Forwarded-For is the caller's own claim: changing it buys no fresh counter."""
    with running_app(tmp_path, users=LOCK_USERS) as (app, prepared), app.client() as client:
        for n in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max):
            assert_error(_login(client, 'lock01', 'Wrong-pass-1', f'10.60.0.{n}'), 401, 'bad_credentials')
        assert_error(_login(client, 'lock01', 'Lock-0001-pass', '10.60.9.9'), 429, 'login_locked')
        failed = [row for row in audit_rows(prepared.url, audit.LOGIN_FAILED) if row['actor'] == 'lock01']
        assert {row['client_address'] for row in failed} == {audited('127.0.0.1')}


def test_the_stored_audit_rows_never_hold_a_callers_plain_address(live: LiveHall) -> None:
    """An attacker behind the hall's proxy tries passwords from IPv4 and IPv6 addresses, then a clerk logs in and
    out: every audit row they leave (read straight from the database file, every column) has the network and a
    digest, never the address; the per-address lockout still counts that address as one client."""
    ipv4, ipv6 = '198.51.100.77', '2001:db8:77:5::1'
    with live.app.client() as client:
        for address in (ipv4, ipv6, ipv4.replace('77', '78')):
            assert_error(_login(client, 'mask01', 'Wrong-pass-1', address), 401, 'bad_credentials')
        for _ in range(LOGIN_PER_ACCOUNT_AND_ADDRESS.max - 1):
            assert_error(_login(client, 'mask01', 'Wrong-pass-1', ipv4), 401, 'bad_credentials')
        assert_error(_login(client, 'mask01', 'Mask-0001-pass', ipv4), 429, 'login_locked')  # still one client
        issued = token(client, ('mask01', 'Mask-0001-pass'), address='10.53.0.1')
        assert client.post('/api/auth/logout', headers=bearer(issued)).status_code == 204
    rows = all_audit_rows(live.url)
    for plain in (ipv4, ipv6, '2001:db8:77:5:0:0:0:1', '198.51.100.78', '10.53.0.1'):
        assert not [row for row in rows if plain in json.dumps(row, default=str)], plain
    stored = {row['client_address'] for row in rows if row['actor'] == 'mask01'}
    assert {audited(ipv4), audited(ipv6), audited('198.51.100.78'), audited('10.53.0.1')} <= stored
    assert audited(ipv4).startswith('198.51.100.0/24#') and audited(ipv6).startswith('2001:db8:77::/48#')


def test_logout_through_the_cookie_revokes_the_session_and_replays_are_refused(live: LiveHall) -> None:
    with live.app.client() as client:
        value = token(client, ('out01', 'Out-0001-pass'), address='10.52.0.1')
        assert_error(_probe(client, value), 409, 'window_not_open')  # valid: judged on its merits
    before = db_state(live.url, ignore=('audit_entry',))
    logouts = len(audit_rows(live.url, audit.LOGOUT))
    with live.app.client(cookies={SESSION_COOKIE: value}) as browser:
        response = browser.post('/auth/logout')
        assert response.status_code == 303, response.text
        assert response.headers['location'] == '/login?reason=logged_out'
        cleared = response.headers['set-cookie']
        assert cleared.startswith(f'{SESSION_COOKIE}=') and 'max-age=0' in cleared.lower()
    with live.app.client(cookies={SESSION_COOKIE: value}) as replay:
        again = replay.post('/auth/logout')  # replaying the old cookie on logout: harmless, not a second logout
        assert again.status_code == 303
    with live.app.client() as client:
        assert_error(_probe(client, value), 401, 'session_expired')
        assert_error(client.post('/api/auth/logout'), 401, 'not_authenticated')
    rows = audit_rows(live.url, audit.LOGOUT)
    assert len(rows) == logouts + 1 and rows[-1]['actor'] == 'out01'
    revoked = [row for row in session_rows(live.url) if row['username'] == 'out01']
    assert revoked and all(row['revoked_at'] is not None for row in revoked)
    assert db_state(live.url, ignore=('audit_entry',)) == before


def test_api_logout_then_replaying_the_bearer_token_is_refused(live: LiveHall) -> None:
    with live.app.client() as client:
        value = token(client, ('out01', 'Out-0001-pass'), address='10.52.0.2')
        before = db_state(live.url, ignore=('audit_entry',))
        assert client.post('/api/auth/logout', headers=bearer(value)).status_code == 204
        for _ in range(2):
            assert_error(_probe(client, value), 401, 'session_expired')
        assert db_state(live.url, ignore=('audit_entry',)) == before


def test_auth_complete_refuses_an_unknown_code_and_sets_no_cookie(live: LiveHall) -> None:
    with live.app.client() as client:
        response = client.get('/auth/complete', params={'code': 'forged-code', 'next': '/window?n=1'})
    assert response.status_code == 303
    assert response.headers['location'] == f'/login?next={quote("/window?n=1")}&reason=expired'
    assert SESSION_COOKIE not in response.headers.get('set-cookie', '')


# ---- the hand-off from the login page to the cookie -----------------------------------------------


@pytest.mark.parametrize(
    ('target', 'expected'),
    [
        ('/window?n=1', '/window?n=1'),
        ('/', '/'),
        ('', '/'),
        (None, '/'),
        ('//evil.example', '/'),
        ('//evil.example/login', '/'),
        ('https://evil.example', '/'),
        ('http:evil.example', '/'),
        ('javascript:alert(1)', '/'),
        ('/\\evil.example', '/'),
        ('\\\\evil.example', '/'),
        ('evil.example', '/'),
    ],
)
def test_safe_next_keeps_only_local_paths(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


BROWSER_A = 'browser-a-7f3c9e21'
BROWSER_B = 'browser-b-04d2aa58'
SESSION_SIGNING = 'session-signing-secret-of-the-test-app'


def _browser_cookie(browser_id: str, secret: str = SESSION_SIGNING) -> str:
    """NiceGUI's signed `session` cookie of one browser, as Starlette's SessionMiddleware writes it."""
    data = base64.b64encode(json.dumps({'id': browser_id}).encode())
    return itsdangerous.TimestampSigner(secret).sign(data).decode()


@dataclass
class HandoffApp:
    client: httpx.AsyncClient  # browser A
    handoff: LoginHandoff
    app: FastAPI

    def browser(self, cookies: dict[str, str]) -> httpx.AsyncClient:
        """Another browser on the same app, with its own cookies."""
        return httpx.AsyncClient(transport=httpx.ASGITransport(self.app), base_url='http://hall.test', cookies=cookies)


@pytest.fixture
async def handoff_app(clock: FakeClock) -> AsyncIterator[HandoffApp]:
    """The web-session routes alone (behind the browser-session middleware NiceGUI installs), with a stand-in
    runtime that has what /auth/complete uses; its client is browser A."""
    handoff = LoginHandoff(clock=clock)
    stand_in: Any = SimpleNamespace(auth=SimpleNamespace(handoff=handoff), settings=Settings())
    started: Startup[Any] = Startup()
    started.open(stand_in)
    app = FastAPI()
    app.state.runtime = started  # where the composition root puts it for the API's dependencies
    app.add_middleware(SessionMiddleware, secret_key=SESSION_SIGNING)
    app.include_router(web_session.router)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app),
        base_url='http://hall.test',
        cookies={'session': _browser_cookie(BROWSER_A)},
    ) as client:
        yield HandoffApp(client, handoff, app)


def _cookie_attributes(response: httpx.Response) -> dict[str, str]:
    header = response.headers['set-cookie']
    name_value, *attributes = (part.strip() for part in header.split(';'))
    assert name_value.startswith(f'{SESSION_COOKIE}=')
    return {a.split('=')[0].lower(): (a.split('=', 1)[1] if '=' in a else '') for a in attributes}


async def test_handoff_sets_a_strict_httponly_cookie_secure_under_tls(
    handoff_app: HandoffApp,
) -> None:
    client, handoff = handoff_app.client, handoff_app.handoff
    code = handoff.issue('token-1', BROWSER_A)
    plain = await client.get('/auth/complete', params={'code': code, 'next': '/window?n=1'})
    assert plain.status_code == 303 and plain.headers['location'] == '/window?n=1'
    assert plain.cookies[SESSION_COOKIE] == 'token-1'
    attributes = _cookie_attributes(plain)
    assert 'httponly' in attributes and attributes['samesite'].lower() == 'strict' and 'secure' not in attributes
    assert attributes['path'] == '/' and int(attributes['max-age']) == 12 * 3600

    tls = await client.get(
        '/auth/complete', params={'code': handoff.issue('token-2', BROWSER_A)}, headers={'x-forwarded-proto': 'https'}
    )
    assert 'secure' in _cookie_attributes(tls)


@pytest.mark.parametrize('target', ['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:x'])
async def test_handoff_never_redirects_off_site(handoff_app: HandoffApp, target: str) -> None:
    client, handoff = handoff_app.client, handoff_app.handoff
    response = await client.get('/auth/complete', params={'code': handoff.issue('token-3', BROWSER_A), 'next': target})
    assert response.status_code == 303 and response.headers['location'] == '/'


async def test_handoff_codes_are_single_use_and_expire(handoff_app: HandoffApp, clock: FakeClock) -> None:
    client, handoff = handoff_app.client, handoff_app.handoff
    code = handoff.issue('token-4', BROWSER_A)
    assert (await client.get('/auth/complete', params={'code': code})).cookies.get(SESSION_COOKIE) == 'token-4'
    replay = await client.get('/auth/complete', params={'code': code, 'next': '/x'})
    assert replay.headers['location'] == '/login?next=/x&reason=expired'
    assert SESSION_COOKIE not in replay.headers.get('set-cookie', '')

    stale = handoff.issue('token-5', BROWSER_A)
    clock.advance(0.6)  # 36 s: past the 30 s lifetime
    late = await client.get('/auth/complete', params={'code': stale})
    assert late.headers['location'].endswith('reason=expired') and 'set-cookie' not in late.headers
    assert handoff.redeem(stale, BROWSER_A) is None


def _no_session_cookie(response: httpx.Response) -> bool:
    return all(not value.startswith(f'{SESSION_COOKIE}=') for value in response.headers.get_list('set-cookie'))


async def test_a_code_opened_in_another_browser_is_refused_and_burnt(
    handoff_app: HandoffApp,
) -> None:
    """Login CSRF: a code sent to someone else must not log their browser into the sender's account."""
    browser_a, handoff = handoff_app.client, handoff_app.handoff
    code = handoff.issue('token-6', BROWSER_A)
    async with handoff_app.browser({'session': _browser_cookie(BROWSER_B)}) as browser_b:
        planted = await browser_b.get('/auth/complete', params={'code': code, 'next': '/window/1'})
    assert planted.status_code == 303
    assert planted.headers['location'] == f'/login?next={quote("/window/1")}&reason=expired'
    assert _no_session_cookie(planted)
    late = await browser_a.get('/auth/complete', params={'code': code})  # burnt: not even its own browser
    assert late.headers['location'].endswith('reason=expired') and _no_session_cookie(late)


@pytest.mark.parametrize(
    'cookies',
    [
        {},  # no browser session at all
        {'session': _browser_cookie(BROWSER_A, secret='another-secret-than-the-apps')},  # forged signature
        {'session': 'not-a-signed-cookie'},
    ],
    ids=['no session cookie', 'forged session cookie', 'garbage session cookie'],
)
async def test_a_code_opened_without_a_genuine_browser_session_is_refused(
    handoff_app: HandoffApp, cookies: dict[str, str]
) -> None:
    handoff = handoff_app.handoff
    code = handoff.issue('token-7', BROWSER_A)
    async with handoff_app.browser(cookies) as other:
        refused = await other.get('/auth/complete', params={'code': code})
    assert refused.headers['location'].endswith('reason=expired') and _no_session_cookie(refused)
    assert handoff.redeem(code, BROWSER_A) is None


def test_a_code_cannot_be_issued_without_a_browser() -> None:
    with pytest.raises(ValueError):
        LoginHandoff().issue('token-8', '')
