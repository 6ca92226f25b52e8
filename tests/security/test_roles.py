"""Role checks on the server, driven by the one table in tests/security/routes.py.

Every staff API route refuses callers without a valid token (401), with the wrong role (403) and staff of
another window (403 not_your_window), and the hall is exactly as before. Pages: public ones open for
anyone; guarded ones send anonymous users to /login?next=... and answer 403 (audited) to wrong roles.
The guard itself (`pages.guard.Guard.require`, `StaffSession.recheck`) is also tested directly, so it is proven
before the first guarded page exists.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.openapi.utils import get_openapi
from nicegui import Client
from nicegui.page import page as nicegui_page
from sqlalchemy import update
from sqlmodel import col
from starlette.requests import Request
from starlette.responses import RedirectResponse

import pages
from app.api.ops import router as ops_router
from app.api.routes import router
from app.api.web_session import SESSION_COOKIE
from app.models.people import ACCOUNT_ROLES, Role, StaffUser
from app.runtime import Runtime, build_runtime
from app.services import audit
from app.settings import load_settings
from pages import guard
from pages.session_watch import SessionWatch
from tests import totp
from tests.apphost import AppProcess, NewUser, PreparedDatabase, prepare_database_async, running_app, sqlite_url
from tests.bare_request import get_request
from tests.conftest import audited
from tests.security.routes import (
    ACCOUNTS,
    API,
    OTHER_WINDOW_STAFF,
    PAGES,
    ROUTES,
    Rule,
    assert_error,
    audit_rows,
    bearer,
    db_state,
    hall_state,
    settled_state,
    token,
)

EXTRA_USERS = [
    NewUser(*OTHER_WINDOW_STAFF, window=2),
    NewUser(*ACCOUNTS[Role.REVIEWER], role=Role.REVIEWER),
    NewUser(*ACCOUNTS[Role.ADMIN], role=Role.ADMIN),
    NewUser(*ACCOUNTS[Role.CITY], role=Role.CITY),
]


# ---- the table covers every route ----------------------------------------------------------------


def test_every_page_and_api_route_has_exactly_one_row() -> None:
    registered = {f'GET {path}' for path in pages.ROUTES}
    routes = [*router.routes, *ops_router.routes]
    api = {(getattr(route, 'path', ''), method) for route in routes for method in getattr(route, 'methods', ())}
    registered |= {f'{method} {path}' for path, method in api if path}
    # routers included into the API router (FastAPI keeps them nested): their documented routes
    documented = get_openapi(title='roles', version='1', routes=routes)['paths']
    registered |= {f'{method.upper()} {path}' for path, methods in documented.items() for method in methods}
    table = [rule.key for rule in ROUTES]
    assert len(table) == len(set(table)), 'a route is listed twice in tests/security/routes.py'
    missing = registered - set(table)
    assert not missing, f'add a row to tests/security/routes.py (path, allowed roles) for: {sorted(missing)}'
    stale = set(table) - registered
    assert not stale, f'tests/security/routes.py lists routes that do not exist: {sorted(stale)}'


# ---- a running hall with one account per role and a window in use --------------------------------


@dataclass
class RoleHall:
    app: AppProcess
    prepared: PreparedDatabase
    tokens: dict[str, str]  # role value (and 'w02') -> bearer token
    revoked: str  # a token of w01 that was logged out
    window_1: int
    window_3: int

    def headers(self, who: str) -> dict[str, str]:
        if who == 'anonymous':
            return {}
        if who == 'forged token':
            return bearer(secrets.token_urlsafe(32))
        if who == 'basic auth':
            return {'Authorization': 'Basic dzAxOldpbmRvdy0wMS1wYXNz'}
        if who == 'revoked token':
            return bearer(self.revoked)
        if who == 'staff of another window':
            return bearer(self.tokens['w02'])
        return bearer(self.tokens[who])

    def cookie(self, who: str) -> dict[str, str]:
        value = self.headers(who).get('Authorization', '').removeprefix('Bearer ')
        return {SESSION_COOKIE: value} if value and not value.startswith('Basic') else {}


@pytest.fixture(scope='module')
def role_hall(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleHall]:
    with running_app(tmp_path_factory.mktemp('roles'), users=EXTRA_USERS) as (app, prepared):
        assert prepared.small_hall is not None
        w1, w3 = prepared.small_hall.window_1, prepared.small_hall.window_3
        with app.client() as client:
            tokens = {role.value: token(client, who) for role, who in ACCOUNTS.items()}
            tokens['w02'] = token(client, OTHER_WINDOW_STAFF)
            revoked = token(client, ACCOUNTS[Role.STAFF])
            assert client.post('/api/auth/logout', headers=bearer(revoked)).status_code == 204
            # Window 1 in use: A001 parked, A002 at the window, A003 and B001 waiting.
            boss = bearer(tokens[Role.MANAGER])
            for service in ('SVC-A', 'SVC-A', 'SVC-A', 'SVC-B'):
                assert client.post('/api/tickets', json={'service_code': service}).status_code == 201
            for step, body in (('call-next', None), ('park', {'reason': 'setup'}), ('call-next', None)):
                response = client.post(f'/api/windows/{w1}/{step}', json=body, headers=boss)
                assert response.status_code == 200, response.text
        settled_state(prepared.url)
        yield RoleHall(app, prepared, tokens, revoked, w1, w3)


def _send(client: httpx.Client, rule: Rule, path: str, headers: dict[str, str]) -> httpx.Response:
    return client.request(rule.method, path, json=rule.body, headers=headers)


# ---- API ------------------------------------------------------------------------------------------


def _api_refusals() -> Iterator[Any]:
    for rule in API:
        if rule.public:
            continue
        cases: list[tuple[str, int, str]] = [
            ('anonymous', 401, 'not_authenticated'),
            ('forged token', 401, 'not_authenticated'),
            ('basic auth', 401, 'not_authenticated'),
            ('revoked token', 401, 'session_expired'),
        ]
        cases += [(role.value, 403, 'forbidden') for role in ACCOUNT_ROLES if role not in rule.allowed]
        if rule.window_scoped and Role.STAFF in rule.roles:
            cases.append(('staff of another window', 403, 'not_your_window'))
        for who, status, code in cases:
            yield pytest.param(rule, who, status, code, id=f'{rule.key} as {who}')


@pytest.mark.parametrize(('rule', 'who', 'status', 'code'), list(_api_refusals()))
def test_api_route_refuses_and_changes_nothing(
    role_hall: RoleHall, rule: Rule, who: str, status: int, code: str
) -> None:
    url = role_hall.prepared.url
    with role_hall.app.client() as client:
        hall_before, db_before = hall_state(client), db_state(url)
        response = _send(client, rule, rule.path(role_hall.window_1), role_hall.headers(who))
        assert_error(response, status, code)
        assert hall_state(client) == hall_before
        assert db_state(url) == db_before


def _api_allowed() -> Iterator[Any]:
    for rule in API:
        if rule.public:
            continue
        for role in rule.allowed:
            yield pytest.param(rule, role.value, id=f'{rule.key} as {role.value}')


@pytest.mark.parametrize(('rule', 'who'), list(_api_allowed()))
def test_allowed_roles_get_past_the_guard(role_hall: RoleHall, rule: Rule, who: str) -> None:
    """The positive control: the same request by an allowed role is judged on its merits, not refused.

    Staff act at their own window 1; managers and admins at window 3 (another window, closed and empty).
    """
    window = role_hall.window_1 if who == Role.STAFF.value else role_hall.window_3
    with role_hall.app.client() as client:
        response = _send(client, rule, rule.path(window), role_hall.headers(who))
    assert response.status_code not in (401, 403), response.text


# ---- pages ----------------------------------------------------------------------------------------


def _pages(public: bool) -> list[Any]:
    rows = [pytest.param(rule, id=rule.route) for rule in PAGES if rule.public == public and not rule.citizen_only]
    assert rows, 'tests/security/routes.py lists no such page'
    return rows


def _denied(rule: Rule) -> list[str]:
    """Who must get a 403 on a guarded page: the roles not allowed, and staff of another window."""
    denied = [role.value for role in ACCOUNT_ROLES if role not in rule.allowed]
    if rule.window_scoped and Role.STAFF in rule.roles:
        denied.append('staff of another window')
    return denied


@pytest.mark.parametrize('rule', _pages(public=True))
def test_public_page_opens_for_anyone(role_hall: RoleHall, rule: Rule) -> None:
    """No login asked: never a redirect to /login, never 401/403 (a page may still say 404 to a bad code)."""
    for who in ('anonymous', 'revoked token', Role.REVIEWER.value):
        with role_hall.app.client(cookies=role_hall.cookie(who)) as client:
            response = client.get(rule.path())
        assert response.status_code in (200, 404), (who, response.status_code)
        assert 'text/html' in response.headers['content-type']
    if not rule.example:
        assert response.status_code == 200


@pytest.mark.parametrize('rule', _pages(public=False))
def test_guarded_page_sends_anonymous_and_expired_sessions_to_login(role_hall: RoleHall, rule: Rule) -> None:
    path = rule.path(role_hall.window_1)
    target = f'{path}?tab=2'
    with role_hall.app.client() as client:
        db_before = db_state(role_hall.prepared.url)
        anonymous = client.get(target)
        assert anonymous.status_code == 303
        assert anonymous.headers['location'] == f'/login?next={quote(target)}'
        for who in ('forged token', 'revoked token'):
            with role_hall.app.client(cookies=role_hall.cookie(who)) as replay:
                expired = replay.get(target)
            assert expired.status_code == 303, who
            assert expired.headers['location'] == f'/login?next={quote(target)}&reason=expired'
        assert db_state(role_hall.prepared.url) == db_before


@pytest.mark.parametrize('rule', _pages(public=False))
def test_guarded_page_refuses_wrong_roles_with_403_and_an_audit_row(role_hall: RoleHall, rule: Rule) -> None:
    url = role_hall.prepared.url
    path = rule.path(role_hall.window_1)
    for who in _denied(rule):
        db_before = db_state(url, ignore=('audit_entry',))
        denials = len(audit_rows(url, audit.ROLE_DENIED))
        with role_hall.app.client(cookies=role_hall.cookie(who)) as client:
            response = client.get(path)
        assert response.status_code == 403, who
        assert '无权访问' in response.text and 'Forbidden' in response.text
        rows = audit_rows(url, audit.ROLE_DENIED)
        assert len(rows) == denials + 1, who
        account = OTHER_WINDOW_STAFF if who == 'staff of another window' else ACCOUNTS[Role(who)]
        assert (rows[-1]['actor'], rows[-1]['target'], rows[-1]['outcome']) == (account[0], path, 'denied'), who
        assert db_state(url, ignore=('audit_entry',)) == db_before


@pytest.mark.parametrize('rule', _pages(public=False))
def test_guarded_page_opens_for_allowed_roles(role_hall: RoleHall, rule: Rule) -> None:
    for role in rule.allowed:
        with role_hall.app.client(cookies=role_hall.cookie(role.value)) as client:
            response = client.get(rule.path(role_hall.window_1))
        assert response.status_code == 200, role


@pytest.mark.parametrize('rule', [pytest.param(rule, id=rule.route) for rule in PAGES if rule.citizen_only])
def test_citizen_page_sends_everyone_but_a_signed_in_phone_to_the_phone_sign_in(
    role_hall: RoleHall, rule: Rule
) -> None:
    """A staff session is not a citizen's: staff, forged and revoked sessions go to /me/login like anonymous."""
    target = f'{rule.path()}?start=2026-12-01T09:00'
    db_before = db_state(role_hall.prepared.url)
    for who in ('anonymous', 'forged token', 'revoked token', *(role.value for role in ACCOUNT_ROLES)):
        with role_hall.app.client(cookies=role_hall.cookie(who)) as client:
            response = client.get(target)
        assert response.status_code == 303, who
        assert response.headers['location'] == f'/me/login?next={quote(target)}', who
    assert db_state(role_hall.prepared.url) == db_before


# ---- the page guard itself -------------------------------------------------------------------------


@dataclass
class GuardHall:
    rt: Runtime
    tokens: dict[str, str]
    guard: guard.Guard


@pytest.fixture
async def guard_hall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[GuardHall]:
    """The runtime on a fresh small hall and a guard wired as the app's start-up would."""
    url = sqlite_url(tmp_path / 'guard.db')
    await prepare_database_async(url, users=EXTRA_USERS)
    monkeypatch.setenv('DATABASE_URL', url)
    rt = await build_runtime(load_settings())
    watch = SessionWatch(rt.auth, rt.bus, period=3600)  # pages are ended here by logouts and rechecks only
    await watch.start()
    try:
        tokens = {
            role.value: (await totp.login(rt.auth, *who, client_address='10.3.0.1')).token
            for role, who in ACCOUNTS.items()
        }
        yield GuardHall(rt, tokens, guard.Guard(rt.auth, audit.AuditLog(rt.deps), rt.settings, watch))
    finally:
        await watch.stop()
        await rt.bus.stop()
        await rt.db.dispose()


def _request(path: str, query: str = '', token_value: str | None = None) -> Request:
    return get_request(path, query, cookie=(SESSION_COOKIE, token_value) if token_value else None)


async def test_guard_sends_anonymous_to_login_keeping_the_path(guard_hall: GuardHall) -> None:
    result = await guard_hall.guard.require(_request('/manager', 'tab=2&x=<y>'), Role.MANAGER)
    assert isinstance(result, RedirectResponse) and result.status_code == 303
    assert result.headers['location'] == f'/login?next={quote("/manager?tab=2&x=<y>")}'
    forged = await guard_hall.guard.require(_request('/manager', token_value=secrets.token_urlsafe(32)), Role.MANAGER)
    assert isinstance(forged, RedirectResponse)
    assert forged.headers['location'] == f'/login?next={quote("/manager")}&reason=expired'


async def test_guard_refuses_wrong_roles_with_403_and_audits(guard_hall: GuardHall) -> None:
    entries_before = len(await audit.last_entries(guard_hall.rt.db, 1000))
    for who in (Role.STAFF, Role.REVIEWER):
        request = _request('/manager', token_value=guard_hall.tokens[who.value])
        result = await guard_hall.guard.require(request, Role.MANAGER)
        assert not isinstance(result, guard.StaffSession)
        assert result.status_code == 403
    entries = await audit.last_entries(guard_hall.rt.db, 1000)
    denied = entries[entries_before:]
    assert [(e.action, e.actor, e.role, e.target, e.outcome, e.client_address) for e in denied] == [
        (audit.ROLE_DENIED, 'w01', 'staff', '/manager', 'denied', audited('10.3.0.9')),
        (audit.ROLE_DENIED, 'rv01', 'reviewer', '/manager', 'denied', audited('10.3.0.9')),
    ]
    assert (await audit.verify(guard_hall.rt.db)).ok


def _page_client(request: Request) -> Client:
    """The NiceGUI client a page function runs in (never rendered here)."""
    return Client(nicegui_page(''), request=request)


def _navigations(client: Client) -> list[str]:
    return [data['path'] for _, kind, data in client.outbox.messages if kind == 'open']


async def test_guard_lets_allowed_roles_and_admins_in_and_watches_their_page(guard_hall: GuardHall) -> None:
    watch = guard_hall.guard.sessions
    for n, who in enumerate((Role.MANAGER, Role.ADMIN), start=1):
        request = _request('/manager', token_value=guard_hall.tokens[who.value])
        with _page_client(request) as client:
            result = await guard_hall.guard.require(request, Role.MANAGER)
        assert isinstance(result, guard.StaffSession), who
        assert result.principal.role == who and result.path == '/manager'
        assert watch.open_pages == n
        client.delete()


async def test_guard_does_not_watch_a_page_it_refused(guard_hall: GuardHall) -> None:
    request = _request('/manager', token_value=guard_hall.tokens[Role.STAFF.value])
    with _page_client(request) as client:
        result = await guard_hall.guard.require(request, Role.MANAGER)
    assert not isinstance(result, guard.StaffSession)
    assert guard_hall.guard.sessions.open_pages == 0
    client.delete()


async def test_recheck_catches_a_logout_before_the_next_action(guard_hall: GuardHall) -> None:
    staff_token = guard_hall.tokens[Role.STAFF.value]
    request = _request('/window', 'n=1', staff_token)
    with _page_client(request) as client:
        session = await guard_hall.guard.require(request, Role.STAFF)
        assert isinstance(session, guard.StaffSession)
        assert (await session.recheck()) is not None and _navigations(client) == []
        await guard_hall.rt.auth.logout(staff_token)
        assert await session.recheck() is None
    assert _navigations(client)[-1] == f'/login?next={quote("/window?n=1")}&reason=logged_out'
    client.delete()


async def test_recheck_ends_a_page_whose_person_moved_to_another_window(guard_hall: GuardHall) -> None:
    request = _request('/window', 'n=1', guard_hall.tokens[Role.STAFF.value])
    with _page_client(request) as client:
        session = await guard_hall.guard.require(request, Role.STAFF)
        assert isinstance(session, guard.StaffSession)
        async with guard_hall.rt.db.session() as s, s.begin():
            await s.execute(update(StaffUser).where(col(StaffUser.username) == 'w01').values(window_id=None))
        assert await session.recheck() is None  # valid login, but the desk was built for the old window
        assert session.principal.window_id is not None  # the page never acts as the moved person
    assert _navigations(client) == [f'/login?next={quote("/window?n=1")}&reason=changed']
    client.delete()
