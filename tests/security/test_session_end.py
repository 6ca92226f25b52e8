"""Open staff pages end with their session: the rule (AuthService.ended), the watcher, and attackers on the real app.

The rule runs on the service with a fake clock (SQLite and PostgreSQL). The watcher runs in-process on
NiceGUI clients that are never rendered. Against the real app, a python-socketio client plays a browser
that keeps a window desk open and ignores the order to navigate away: after its session ends it must
receive nothing more, while a desk of a valid session sees the same call (so silence is not an accident).
Chromium sees the same in e2e/test_session_end.py.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import aiohttp
import httpx
import pytest
import socketio
from nicegui import Client, ui
from nicegui import Event as UiEvent
from nicegui.page import page as nicegui_page
from redis.asyncio import Redis
from sqlalchemy import event as sa_event
from sqlalchemy import update
from sqlmodel import col, select
from yarl import URL

from app.bus import InProcessBus
from app.bus_redis import RedisBus
from app.db import Database
from app.events import Event, SessionEnded
from app.models.hall import Department
from app.models.people import AuthSession, Role, StaffUser
from app.security.keys import Purpose
from app.services.auth import AuthService, SessionEnd, principal_changed
from app.services.principal import Kind, Principal
from app.settings import ConfigError, Settings, load_settings
from pages.session_watch import SessionWatch
from tests import totp
from tests.apphost import AppProcess, NewUser, PreparedDatabase, running_app
from tests.bare_request import get_request
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall
from tests.security.routes import bearer, sqlite_path
from tests.totp import token_body_async

W01 = ('w01', 'Window-01-pass')
REDIS = 'redis://127.0.0.1:6379/0'
BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture
def auth(db: Database, hall: SmallHall, settings: Settings, clock: FakeClock, bus: InProcessBus) -> AuthService:
    return AuthService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock))


async def _change_user(db: Database, username: str, **values: Any) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(StaffUser).where(col(StaffUser.username) == username).values(**values))


async def _change_session(db: Database, session_id: int | None, **values: Any) -> None:
    async with db.session() as s, s.begin():
        await s.execute(update(AuthSession).where(col(AuthSession.id) == session_id).values(**values))


async def _last_seen(db: Database, session_id: int | None) -> dt.datetime:
    async with db.session() as s:
        seen = (await s.execute(select(AuthSession.last_seen_at).where(AuthSession.id == session_id))).scalar_one()
    return seen if seen.tzinfo else seen.replace(tzinfo=dt.UTC)


# ---- the rule: AuthService.ended (fake clock) -------------------------------------------------------


async def test_a_valid_session_is_not_ended(auth: AuthService) -> None:
    page = (await totp.login(auth, *W01)).principal
    assert await auth.ended([page]) == {}


async def test_watching_is_not_activity_so_an_idle_session_ends_on_time(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    page = (await totp.login(auth, *W01)).principal
    seen = await _last_seen(db, page.session_id)
    for _ in range(29):  # a page open for 29 minutes, judged every minute: nothing written, nothing ended
        clock.advance(1)
        assert await auth.ended([page]) == {}
    assert await _last_seen(db, page.session_id) == seen
    clock.advance(1.1)  # 30 minutes and 6 s without a request
    assert await auth.ended([page]) == {page: SessionEnd.IDLE}
    assert await _last_seen(db, page.session_id) == seen


async def test_activity_on_another_page_of_the_session_keeps_this_page_open(
    auth: AuthService, clock: FakeClock
) -> None:
    issued = await totp.login(auth, *W01)
    clock.advance(20)
    await auth.authenticate(issued.token)  # the person acts on another page of the same session
    clock.advance(20)
    assert await auth.ended([issued.principal]) == {}
    clock.advance(10.2)
    assert await auth.ended([issued.principal]) == {issued.principal: SessionEnd.IDLE}


async def test_the_absolute_lifetime_ends_even_an_active_session(
    auth: AuthService, db: Database, clock: FakeClock
) -> None:
    issued = await totp.login(auth, *W01)
    await _change_session(db, issued.principal.session_id, created_at=clock.now - dt.timedelta(hours=12, seconds=1))
    assert await auth.ended([issued.principal]) == {issued.principal: SessionEnd.EXPIRED}


async def test_logout_ends_the_page_and_is_published_once_for_every_process(
    auth: AuthService, bus: InProcessBus
) -> None:
    heard: list[Event] = []
    bus.subscribe(heard.append, SessionEnded)
    issued = await totp.login(auth, *W01)
    await auth.logout(issued.token)
    await auth.logout(issued.token)  # again: nothing more to end, nothing more to publish
    await bus.drain()
    assert await auth.ended([issued.principal]) == {issued.principal: SessionEnd.LOGGED_OUT}
    assert [(type(e), e.session_id, e.reason) for e in heard if isinstance(e, SessionEnded)] == [
        (SessionEnded, issued.principal.session_id, 'logged_out')
    ]


async def test_a_deactivated_account_ends_its_pages(auth: AuthService, db: Database) -> None:
    page = (await totp.login(auth, *W01)).principal
    await _change_user(db, 'w01', active=False)
    assert await auth.ended([page]) == {page: SessionEnd.DEACTIVATED}


@pytest.mark.parametrize('change', ['role', 'window', 'department'])
async def test_a_changed_role_window_or_department_ends_pages_built_for_the_old_one(
    auth: AuthService, db: Database, hall: SmallHall, change: str
) -> None:
    page = (await totp.login(auth, *W01)).principal
    async with db.session() as s:
        department = (await s.execute(select(Department.id))).scalars().first()
    values: dict[str, Any] = {
        'role': {'role': Role.REVIEWER},
        'window': {'window_id': hall.window_2},
        'department': {'department_id': department},
    }[change]
    await _change_user(db, 'w01', **values)
    assert await auth.ended([page]) == {page: SessionEnd.CHANGED}


async def test_a_new_display_name_changes_nothing_the_page_was_built_for(auth: AuthService, db: Database) -> None:
    page = (await totp.login(auth, *W01)).principal
    await _change_user(db, 'w01', display_name='王五')
    assert await auth.ended([page]) == {}


async def test_a_session_row_that_is_gone_ends_its_pages(auth: AuthService, db: Database) -> None:
    page = (await totp.login(auth, *W01)).principal
    async with db.session() as s, s.begin():
        session = await s.get(AuthSession, page.session_id)
        await s.delete(session)
    assert await auth.ended([page]) == {page: SessionEnd.EXPIRED}


async def test_all_open_pages_are_judged_in_one_query(auth: AuthService, db: Database) -> None:
    """Hundreds of open desks cost the process one read per check, not one per page."""
    pages = [(await totp.login(auth, *W01)).principal for _ in range(3)] + [(await totp.login(auth, *BOSS)).principal]
    await auth.logout((await totp.login(auth, *BOSS)).token)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = db.read_engine.sync_engine
    sa_event.listen(engine, 'before_cursor_execute', count)
    try:
        verdicts = await auth.ended(pages)
    finally:
        sa_event.remove(engine, 'before_cursor_execute', count)
    assert verdicts == {}
    assert len([s for s in statements if 'auth_session' in s]) == 1, statements
    assert not [s for s in statements if s.lstrip().upper().startswith(('UPDATE', 'INSERT', 'DELETE'))]


def test_only_role_window_and_department_count_as_a_change() -> None:
    before = Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=1, session_id=7)
    assert not principal_changed(before, before)
    for changed in ({'role': Role.MANAGER}, {'window_id': 2}, {'window_id': None}, {'department_id': 3}):
        assert principal_changed(before, replace(before, **changed)), changed
    assert not principal_changed(before, replace(before, display_name='王五', address='10.0.0.9'))


def test_the_check_period_defaults_to_15_s_and_cannot_break_the_60_s_promise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('SESSION_CHECK_SECONDS', raising=False)
    assert load_settings().session_check_seconds == 15
    monkeypatch.setenv('SESSION_CHECK_SECONDS', '0.5')
    assert load_settings().session_check_seconds == 0.5
    for value in ('46', '0', '-1', 'often'):
        monkeypatch.setenv('SESSION_CHECK_SECONDS', value)
        with pytest.raises(ConfigError) as refused:
            load_settings()
        assert 'SESSION_CHECK_SECONDS' in str(refused.value), value


# ---- the watcher, on NiceGUI clients that are never rendered ----------------------------------------


def _client(path: str) -> Client:
    request = get_request(path, client='10.9.0.1')
    return Client(nicegui_page(''), request=request)


@dataclass
class OpenDesk:
    """A stand-in staff page: a header, a ticket number, and a live subscription to a feed."""

    client: Client
    received: list[str] = field(default_factory=list)

    @property
    def navigations(self) -> list[str]:
        return [data['path'] for _, kind, data in self.client.outbox.messages if kind == 'open']

    def texts(self) -> list[str]:
        return [str(e.text) for e in self.client.elements.values() if isinstance(e, ui.label)]


def _open_desk(watch: SessionWatch, feed: UiEvent[str], principal: Principal, path: str) -> OpenDesk:
    client = _client(path)
    desk = OpenDesk(client)
    with client:
        ui.header()
        ui.label('A001')
        feed.subscribe(desk.received.append)
    watch.watch(client, principal, path)
    return desk


async def test_a_logout_ends_that_sessions_pages_at_once_and_no_other_page(
    auth: AuthService, bus: InProcessBus
) -> None:
    watch = SessionWatch(auth, bus, period=3600)  # no periodic check in this test: only the bus can end the page
    await watch.start()
    feed: UiEvent[str] = UiEvent()
    victim = await totp.login(auth, *W01)
    other = await totp.login(auth, *BOSS)
    desks = [
        _open_desk(watch, feed, victim.principal, '/window/1'),
        _open_desk(watch, feed, victim.principal, '/window/1?tab=2'),
        _open_desk(watch, feed, other.principal, '/manager'),
    ]
    try:
        feed.emit('A001')
        assert [d.received for d in desks] == [['A001']] * 3
        await auth.logout(victim.token)
        await bus.drain()
        feed.emit('A002')  # called after the logout: only the valid session's page hears of it
        assert [d.received for d in desks] == [['A001'], ['A001'], ['A001', 'A002']]
        assert desks[0].navigations == [f'/login?next={quote("/window/1")}&reason=logged_out']
        assert desks[1].navigations == [f'/login?next={quote("/window/1?tab=2")}&reason=logged_out']
        assert desks[2].navigations == []
        for ended in desks[:2]:
            assert ended.texts() == ['登录已结束，正在前往登录页…']  # the ticket number is gone from the page
            assert not [e for e in ended.client.elements.values() if e.tag == 'q-header']
        assert desks[2].texts() == ['A001']
    finally:
        await watch.stop()
        for desk in desks:
            desk.client.delete()


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        ({'active': False}, 'deactivated'),
        ({'role': Role.REVIEWER}, 'changed'),
        ({'window_id': None}, 'changed'),
    ],
)
async def test_the_periodic_check_ends_pages_of_deactivated_or_changed_accounts(
    auth: AuthService, bus: InProcessBus, db: Database, change: dict[str, Any], reason: str
) -> None:
    watch = SessionWatch(auth, bus, period=0.05)
    await watch.start()
    feed: UiEvent[str] = UiEvent()
    desk = _open_desk(watch, feed, (await totp.login(auth, *W01)).principal, '/window/1')
    bystander = _open_desk(watch, feed, (await totp.login(auth, *BOSS)).principal, '/manager')
    try:
        await asyncio.sleep(0.3)
        assert desk.navigations == [] and bystander.navigations == []  # valid sessions are left alone
        await _change_user(db, 'w01', **change)
        for _ in range(100):
            if desk.navigations:
                break
            await asyncio.sleep(0.05)
        assert desk.navigations[0] == f'/login?next={quote("/window/1")}&reason={reason}'
        feed.emit('A003')
        assert desk.received == [] and bystander.received == ['A003']
        assert bystander.navigations == []
    finally:
        await watch.stop()
        desk.client.delete()
        bystander.client.delete()


async def test_pages_whose_client_is_gone_are_forgotten(auth: AuthService, bus: InProcessBus) -> None:
    watch = SessionWatch(auth, bus, period=3600)
    feed: UiEvent[str] = UiEvent()
    principal = (await totp.login(auth, *W01)).principal
    desks = [_open_desk(watch, feed, principal, '/window/1') for _ in range(3)]
    assert watch.open_pages == 3
    desks[0].client.delete()
    await watch.check()
    assert watch.open_pages == 2
    for desk in desks[1:]:
        desk.client.delete()
    await watch.check()
    assert watch.open_pages == 0


async def test_a_bus_message_with_an_unknown_reason_still_ends_the_page_as_a_logout(
    auth: AuthService, bus: InProcessBus, hall: SmallHall
) -> None:
    watch = SessionWatch(auth, bus, period=3600)
    feed: UiEvent[str] = UiEvent()
    principal = (await totp.login(auth, *W01)).principal
    desk = _open_desk(watch, feed, principal, '/window/1')
    try:
        watch.on_event(SessionEnded(hall_id=hall.hall_id, session_id=principal.session_id or 0, reason='<script>'))
        assert desk.navigations == [f'/login?next={quote("/window/1")}&reason=logged_out']
    finally:
        desk.client.delete()


async def test_a_logout_in_one_process_ends_the_pages_open_in_another_over_redis(
    db: Database, hall: SmallHall, settings: Settings, clock: FakeClock
) -> None:
    """Two processes: the person logs out through process A; their desk is open on process B."""
    stream = f'halltwin:test:events:{uuid.uuid4().hex[:8]}'
    key = settings.key(Purpose.BUS)
    bus_a, bus_b = RedisBus(REDIS, key=key, stream=stream), RedisBus(REDIS, key=key, stream=stream)
    await bus_a.start()
    await bus_b.start()
    auth_a = AuthService(deps_for(db, bus_a, hall_id=hall.hall_id, settings=settings, clock=clock))
    watch_b = SessionWatch(
        AuthService(deps_for(db, bus_b, hall_id=hall.hall_id, settings=settings, clock=clock)),
        bus_b,
        period=3600,
    )
    await watch_b.start()
    feed: UiEvent[str] = UiEvent()
    issued = await totp.login(auth_a, *W01)
    desk = _open_desk(watch_b, feed, issued.principal, '/window/1')
    try:
        await auth_a.logout(issued.token)
        deadline = time.monotonic() + 15
        while not desk.navigations:
            assert time.monotonic() < deadline, 'process B never heard of the logout'
            await asyncio.sleep(0.05)
        assert desk.navigations == [f'/login?next={quote("/window/1")}&reason=logged_out']
        feed.emit('A004')
        assert desk.received == []
    finally:
        desk.client.delete()
        await watch_b.stop()
        await bus_a.stop()
        await bus_b.stop()
        redis = Redis.from_url(REDIS)
        await redis.delete(stream)
        await redis.aclose()


# ---- attackers on the real app: a desk that stays open after its session ended ----------------------

CLIENT_ID = re.compile(r"'client_id': '([0-9a-f-]+)'")
SOCKET_PATH = '/_nicegui_ws/socket.io'
QUICK_CHECK = 1.0  # SESSION_CHECK_SECONDS of the app that tests the periodic check
SLOW_CHECK = 45.0  # the largest allowed: an end seen within seconds there came over the bus
STAFF = [
    NewUser('se01', 'Session-01-pass', window=1),
    NewUser('se02', 'Session-02-pass', window=2),
    NewUser('se04', 'Session-04-pass', window=4),
]
SERVICE_OF_WINDOW = {1: 'SVC-A', 2: 'SVC-B', 4: 'SVC-C'}
PATIENCE = 20.0


@dataclass
class LiveHall:
    app: AppProcess
    prepared: PreparedDatabase

    def window_id(self, number: int) -> int:
        hall = self.prepared.small_hall
        assert hall is not None
        return {1: hall.window_1, 2: hall.window_2, 4: hall.window_4}[number]


def _live(tmp_path_factory: pytest.TempPathFactory, period: float) -> Iterator[LiveHall]:
    env = {'SESSION_CHECK_SECONDS': str(period)}
    with running_app(tmp_path_factory.mktemp('session-end'), users=STAFF, extra_env=env) as (app, prepared):
        yield LiveHall(app, prepared)


@pytest.fixture(scope='module')
def quick(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    yield from _live(tmp_path_factory, QUICK_CHECK)


@pytest.fixture(scope='module')
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHall]:
    yield from _live(tmp_path_factory, SLOW_CHECK)


@dataclass
class StayingPage:
    """A browser that loaded a page and keeps its socket, whatever it is told (it never navigates away)."""

    base: str
    path: str
    session_token: str
    received: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic time, event, payload)
    http: aiohttp.ClientSession | None = None
    sio: socketio.AsyncClient | None = None

    async def open(self) -> None:
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies({'ht_session': self.session_token}, response_url=URL(self.base))
        self.http = aiohttp.ClientSession(cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=30))
        async with self.http.get(f'{self.base}{self.path}', allow_redirects=False) as response:
            assert response.status == 200, response.status
            found = CLIENT_ID.search(await response.text())
        assert found is not None
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on('*', self._record)
        query = (
            f'client_id={found.group(1)}&next_message_id=0&implicit_handshake=true'
            f'&document_id={uuid.uuid4()}&tab_id={uuid.uuid4()}'
        )
        await self.sio.connect(
            f'{self.base}/?{query}',
            headers={'Cookie': '; '.join(f'{c.key}={c.value}' for c in jar), 'Origin': self.base},
            transports=['websocket'],
            socketio_path=SOCKET_PATH,
            wait_timeout=30,
        )

    async def _record(self, event: str, data: Any = None) -> None:
        self.received.append((time.monotonic(), event, json.dumps(data, ensure_ascii=False)))

    def since(self, moment: float) -> str:
        return '\n'.join(f'{event} {payload}' for at, event, payload in self.received if at >= moment)

    def navigations(self) -> list[str]:
        return [json.loads(payload)['path'] for _, event, payload in self.received if event == 'open']

    async def wait_for(self, text: str, timeout: float = PATIENCE) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.since(0):
            assert time.monotonic() < deadline, f'{self.path} never received {text!r}'
            await asyncio.sleep(0.05)

    async def wait_for_navigation(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not self.navigations():
            assert time.monotonic() < deadline, f'{self.path} was not sent anywhere within {timeout} s'
            await asyncio.sleep(0.05)
        return self.navigations()[0]

    def navigated_at(self) -> float:
        return min(at for at, event, _ in self.received if event == 'open')

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    async def close(self) -> None:
        if self.sio is not None:
            await self.sio.disconnect()
        if self.http is not None:
            await self.http.close()


async def _call_one(api: httpx.AsyncClient, boss: str, window_id: int, number: int) -> str:
    """A manager calls a new ticket at the window (after completing whatever is current there)."""
    await api.post(f'/api/windows/{window_id}/complete', headers=bearer(boss))
    taken = await api.post('/api/tickets', json={'service_code': SERVICE_OF_WINDOW[number]}, headers=bearer(boss))
    assert taken.status_code == 201, taken.text
    called = await api.post(f'/api/windows/{window_id}/call-next', headers=bearer(boss))
    assert called.status_code == 200, called.text
    assert called.json()['number'] == taken.json()['number']
    return str(called.json()['number'])


@dataclass
class DeskScene:
    """The victim's desk and, on the same window, a manager's desk whose session stays valid (the control)."""

    hall: LiveHall
    username: str
    number: int
    victim_token: str
    boss_token: str
    victim: StayingPage
    control: StayingPage
    api: httpx.AsyncClient

    async def call(self) -> str:
        return await _call_one(self.api, self.boss_token, self.hall.window_id(self.number), self.number)

    def session_id(self) -> int:
        """The victim's session (the newest of its user)."""
        with closing(sqlite3.connect(sqlite_path(self.hall.prepared.url), timeout=30)) as db:
            row = db.execute(
                'SELECT a.id FROM auth_session a JOIN staff_user u ON u.id = a.user_id'
                ' WHERE u.username = ? ORDER BY a.id DESC LIMIT 1',
                (self.username,),
            ).fetchone()
        return int(row[0])


async def _scene(hall: LiveHall, user: NewUser) -> DeskScene:
    assert user.window is not None
    api = hall.app.async_client()
    tokens = []
    for username, password in ((user.username, user.password), BOSS):
        issued = await token_body_async(api, username, password)
        assert issued.status_code == 200, issued.text
        tokens.append(str(issued.json()['access_token']))
    victim_token, boss_token = tokens
    path = f'/window/{hall.window_id(user.window)}'
    scene = DeskScene(
        hall,
        user.username,
        user.window,
        victim_token,
        boss_token,
        StayingPage(hall.app.base_url, path, victim_token),
        StayingPage(hall.app.base_url, path, boss_token),
        api,
    )
    await scene.victim.open()
    await scene.control.open()
    live = await scene.call()  # before the end: both desks show the call, so the victim's desk is really live
    await scene.victim.wait_for(live)
    await scene.control.wait_for(live)
    return scene


async def _close(scene: DeskScene) -> None:
    await scene.victim.close()
    await scene.control.close()
    await scene.api.aclose()


async def _assert_ended_and_deaf(
    scene: DeskScene, ended_at: float, reason: str, within: float, *, immediate: bool
) -> None:
    """The victim is sent to the login page within `within` s and then hears of no call, though it stays
    connected; the control desk hears of every one of those calls.

    `immediate` (logout, over the bus): a call made right after the end must not reach the victim either.
    Otherwise (the periodic check) a call in the seconds before the check may still be shown: that is the
    period's promise; nothing may arrive once the page has been ended.
    """
    meanwhile = [await scene.call()] if immediate else []
    navigated = await scene.victim.wait_for_navigation(within)
    assert time.monotonic() - ended_at < within
    assert navigated == f'/login?next={quote(scene.victim.path)}&reason={reason}'
    deaf_since = ended_at if immediate else scene.victim.navigated_at()
    numbers = [*meanwhile, await scene.call()]
    for number in numbers:
        await scene.control.wait_for(number)
    await asyncio.sleep(1.0)  # anything late would arrive by now (the control got it already)
    heard = scene.victim.since(deaf_since)
    assert [number for number in numbers if number in heard] == [], heard
    assert scene.victim.connected  # it ignored the navigation: the server stopped sending all the same


async def test_logout_through_the_api_ends_an_open_desk_at_once_even_if_the_browser_stays(slow: LiveHall) -> None:
    scene = await _scene(slow, STAFF[0])
    try:
        logged_out = time.monotonic()
        response = await scene.api.post('/api/auth/logout', headers=bearer(scene.victim_token))
        assert response.status_code == 204
        await _assert_ended_and_deaf(scene, logged_out, 'logged_out', within=5.0, immediate=True)  # << 45 s
    finally:
        await _close(scene)


def _sql(hall: LiveHall, statement: str, *values: Any) -> None:
    with closing(sqlite3.connect(sqlite_path(hall.prepared.url), timeout=30)) as db, db:
        db.execute(statement, values)


async def test_a_deactivated_account_loses_its_open_desk_within_the_check_period(quick: LiveHall) -> None:
    scene = await _scene(quick, STAFF[0])
    try:
        deactivated = time.monotonic()
        _sql(quick, 'UPDATE staff_user SET active = 0 WHERE username = ?', STAFF[0].username)
        await _assert_ended_and_deaf(scene, deactivated, 'deactivated', within=QUICK_CHECK + 5, immediate=False)
    finally:
        await _close(scene)


async def test_moving_staff_to_another_window_ends_the_desk_of_the_old_one(quick: LiveHall) -> None:
    scene = await _scene(quick, STAFF[1])
    try:
        moved = time.monotonic()
        _sql(quick, 'UPDATE staff_user SET window_id = ? WHERE username = ?', quick.window_id(4), STAFF[1].username)
        await _assert_ended_and_deaf(scene, moved, 'changed', within=QUICK_CHECK + 5, immediate=False)
    finally:
        await _close(scene)


async def test_an_idle_session_ends_its_desk_and_the_open_desk_itself_is_not_activity(quick: LiveHall) -> None:
    scene = await _scene(quick, STAFF[2])
    try:
        session_id = scene.session_id()
        seen = _last_seen_row(quick, session_id)
        await asyncio.sleep(3 * QUICK_CHECK + 0.5)  # several checks of the open desk
        assert _last_seen_row(quick, session_id) == seen  # none of them counted as the person's activity
        assert scene.victim.navigations() == []
        idle_since = dt.datetime.fromisoformat(seen) - dt.timedelta(minutes=31)
        went_idle = time.monotonic()
        _sql(quick, 'UPDATE auth_session SET last_seen_at = ? WHERE id = ?', _like(seen, idle_since), session_id)
        await _assert_ended_and_deaf(scene, went_idle, 'idle', within=QUICK_CHECK + 5, immediate=False)
    finally:
        await _close(scene)


def _last_seen_row(hall: LiveHall, session_id: int) -> str:
    with closing(sqlite3.connect(sqlite_path(hall.prepared.url), timeout=30)) as db:
        return str(db.execute('SELECT last_seen_at FROM auth_session WHERE id = ?', (session_id,)).fetchone()[0])


def _like(stored: str, moment: dt.datetime) -> str:
    """`moment` written the way SQLAlchemy wrote `stored` (space separator, microseconds)."""
    return moment.isoformat(sep=' ', timespec='microseconds') if ' ' in stored else moment.isoformat()
