"""A page's socket.io messages count only from the socket bound to that page.

Browser A opens a page; browser B opens its own page and socket (same origin, its own cookies and
handshake: everything legitimate) and then sends NiceGUI's client messages (`event`,
`javascript_response`, `ack`, `log`) naming A's client id. A's page must not react, B's socket is
closed, and the same message from A's own socket still works (so each test can fail).
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from nicegui import core
from nicegui import nicegui as nicegui_server

from app.services import audit
from pages import hardening
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.browser import Page, UiSocket, open_page
from tests.security.routes import audit_rows, settled_state

WRONG_LOGIN = '用户名或密码错误'
RELOAD = 'window.location.reload()'


# ---- the guards themselves -------------------------------------------------------------------------


def test_every_nicegui_socket_handler_is_guarded_once_however_often_installed() -> None:
    nicegui_handlers = {
        'connect': nicegui_server._on_connect,
        'handshake': nicegui_server._on_handshake,
        'event': nicegui_server._on_event,
        'javascript_response': nicegui_server._on_javascript_response,
        'ack': nicegui_server._on_ack,
        'log': nicegui_server._on_log,
    }
    for _ in range(3):  # NiceGUI's test harness runs the composition root once per test
        hardening.install(['http://127.0.0.1:8080'], 'a secret')
    handlers = core.sio.handlers['/']
    assert set(handlers) == {*hardening.CLIENT_MESSAGES, *hardening.SESSION_EVENTS}
    assert handlers['disconnect'] is nicegui_server._on_disconnect  # it only looks at the socket's own rooms
    for kind, original in nicegui_handlers.items():
        guard = handlers[kind]
        assert guard is not original and guard.__wrapped__ is original, kind  # type: ignore[attr-defined]
        assert inspect.iscoroutinefunction(guard), kind  # python-socketio awaits it


def test_a_nicegui_socket_handler_without_a_guard_stops_the_app_from_starting() -> None:
    core.sio.on('sneaky', lambda sid, message: None)
    try:
        with pytest.raises(RuntimeError, match='sneaky'):
            hardening.install(['http://127.0.0.1:8080'], 'a secret')
    finally:
        del core.sio.handlers['/']['sneaky']


# ---- against the running app -----------------------------------------------------------------------


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('ui-messages')) as (app, prepared):
        yield app, prepared


def _failed_logins(prepared: PreparedDatabase) -> list[str]:
    return [str(row['actor']) for row in audit_rows(prepared.url, audit.LOGIN_FAILED)]


def _own_message(kind: str, page: Page) -> dict[str, Any]:
    """A harmless message of each kind, as A's browser would send it for its own page."""
    return {
        'event': page.event('login-username', 'update:value', 'typed by A'),
        'javascript_response': {'client_id': page.client_id, 'request_id': str(uuid.uuid4()), 'result': 1},
        'ack': {'client_id': page.client_id, 'next_message_id': 0},
        'log': {'client_id': page.client_id, 'level': 'info', 'message': 'a log line from A'},
    }[kind]


async def _forge(app: AppProcess, message: dict[str, Any], kind: str) -> bool:
    """Browser B, with its own page and bound socket, sends `message`: was B's socket closed for it?"""
    own = await open_page(app.base_url, '/login')
    async with UiSocket(own) as b:
        assert b.connected
        await b.emit(kind, message)
        return await b.closed_by_server()


@pytest.mark.parametrize('kind', hardening.CLIENT_MESSAGES)
async def test_a_message_naming_another_client_closes_the_socket_that_sent_it(
    live: tuple[AppProcess, PreparedDatabase], kind: str
) -> None:
    app, _ = live
    page = await open_page(app.base_url, '/login')
    async with UiSocket(page) as a:
        assert await _forge(app, _own_message(kind, page), kind), 'B may send messages for A'
        assert a.sio is not None
        await a.sio.call(kind, _own_message(kind, page), timeout=20)  # answered once NiceGUI's handler ran
        assert a.connected


async def test_an_unbound_socket_cannot_drive_another_browsers_page(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, prepared = live
    forged, own = f'forged-{uuid.uuid4().hex[:8]}', f'own-{uuid.uuid4().hex[:8]}'
    page = await open_page(app.base_url, '/login')
    before = _failed_logins(prepared)
    async with UiSocket(page) as a:
        closed = [await _forge(app, page.event('login-username', 'update:value', forged), 'event')]
        closed.append(await _forge(app, page.event('login-submit', 'click'), 'event'))
        await a.emit('event', page.event('login-username', 'update:value', own))
        await a.emit('event', page.event('login-submit', 'click'))
        await a.until('update', lambda data: WRONG_LOGIN in json.dumps(data, ensure_ascii=False))
    settled_state(prepared.url)
    assert _failed_logins(prepared)[len(before) :] == [own]  # A's own attempt only: no forged one, no empty one
    assert closed == [True, True]


def _marker(prefix: str) -> str:
    """A unique text without digits: the log masks any run that reads as a phone or ID number
    (app/security/masking.py), and a uuid's hex now and then holds one: '...16759170739' was logged as
    '...167****0739'."""
    return f'{prefix}-{uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))}'


async def test_an_unbound_socket_cannot_write_to_the_log_in_another_pages_name(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    forged, own = _marker('forged-log'), _marker('own-log')
    page = await open_page(app.base_url, '/login')
    async with UiSocket(page) as a:
        closed = await _forge(app, {'client_id': page.client_id, 'level': 'warning', 'message': forged}, 'log')
        assert a.sio is not None
        await a.sio.call('log', {'client_id': page.client_id, 'level': 'warning', 'message': own}, timeout=20)
    output = app.output(limit=1_000_000)
    assert own in output and forged not in output
    assert closed


async def test_an_unbound_socket_cannot_prune_another_pages_replay_history(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    """NiceGUI replays missed messages to a page that reconnects, from the history its `ack`s prune."""
    app, _ = live
    page = await open_page(app.base_url, '/login')
    async with UiSocket(page) as first:
        await first.emit('event', page.event('login-submit', 'click'))
        await first.until('update', lambda data: WRONG_LOGIN in json.dumps(data, ensure_ascii=False))
        closed = await _forge(app, {'client_id': page.client_id, 'next_message_id': 1_000_000}, 'ack')
    async with UiSocket(page, next_message_id=0) as second:  # the tab is back and missed everything: a replay
        await second.until('update', lambda data: WRONG_LOGIN in json.dumps(data, ensure_ascii=False))
        assert RELOAD not in json.dumps(second.received)
        assert second.sio is not None
        await second.sio.call('ack', {'client_id': page.client_id, 'next_message_id': 1_000_000}, timeout=20)
    async with UiSocket(page, next_message_id=0) as third:  # A's own ack pruned it: nothing to replay, a reload
        await third.until('run_javascript', lambda data: RELOAD in str(data.get('code')))
    assert closed
