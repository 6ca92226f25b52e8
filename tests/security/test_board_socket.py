"""The call board's socket (`/live/board[/{zone}]`), attacked over real websockets against the running app.

Anyone may listen to a board; nobody may make it do anything else. A page of another site is refused (the
allowed origins of the UI socket), an unknown zone is refused before a socket opens, one address holds at
most `PER_ADDRESS` sockets however it names itself, anything a client sends closes its socket, and a reader
that stops reading delays no other board. No refusal changes the hall.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from devices.protocol import MAX_MESSAGE_BYTES
from pages.display import PER_ADDRESS
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.routes import bearer, settled_state, token

W01 = ('w01', 'Window-01-pass')


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase]]:
    with running_app(tmp_path_factory.mktemp('board-socket')) as hall:
        yield hall


def ws_url(app: AppProcess, path: str = '/live/board') -> str:
    return app.base_url.replace('http://', 'ws://') + path


@contextmanager
def listen(app: AppProcess, path: str = '/live/board', **kwargs: object) -> Iterator[ClientConnection]:
    """A board's socket as a browser on the app's own page opens it, once the snapshot arrived."""
    kwargs.setdefault('origin', app.base_url)
    with connect(ws_url(app, path), open_timeout=10, **kwargs) as board:  # type: ignore[arg-type]
        snapshot = json.loads(board.recv(timeout=10))
        assert {'seq', 'calls', 'waiting'} <= set(snapshot)
        yield board


def refused(app: AppProcess, path: str = '/live/board', **kwargs: object) -> int:
    """The HTTP status the upgrade was answered with (the socket never opened)."""
    kwargs.setdefault('origin', app.base_url)
    with pytest.raises(InvalidStatus) as refusal, connect(ws_url(app, path), open_timeout=10, **kwargs):  # type: ignore[arg-type]
        pass
    return refusal.value.response.status_code


def closed_with(board: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closing_:
        while True:
            board.recv(timeout=10)
    return closing_.value.rcvd.code if closing_.value.rcvd else None


def call_a_ticket(app: AppProcess) -> str:
    with app.client() as client:
        desk = bearer(token(client, W01))  # a clerk's ticket: the anonymous limit per address stays out of it
        taken = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk)
        assert taken.status_code == 201, taken.text
        client.post('/api/windows/1/complete', headers=desk)
        called = client.post('/api/windows/1/call-next', headers=desk)
        assert called.status_code == 200, called.text
        return str(called.json()['number'])


def next_call(board: ClientConnection) -> dict[str, object]:
    while True:
        text = json.loads(board.recv(timeout=10))
        if 'say' in text:
            return dict(text)


def test_an_unknown_zone_or_a_foreign_page_is_refused_before_a_socket_opens(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, prepared = live
    before = settled_state(prepared.url)
    assert refused(app, '/live/board/nowhere') == 404
    assert refused(app, '/live/board/' + 'z' * 3000) == 404
    assert refused(app, "/live/board/general'%20OR%201=1--") == 404
    assert refused(app, origin='http://evil.example') == 403
    assert refused(app, origin='null') == 403
    assert httpx.get(f'{app.base_url}/live/board').status_code in (404, 405)  # not an HTTP resource
    with listen(app, '/live/board/general'):  # the hall's own zone and page: served
        pass
    with listen(app, origin=None):  # no Origin at all: not a browser page, nothing to forge
        pass
    assert settled_state(prepared.url) == before


def test_one_address_holds_at_most_its_share_and_a_forwarded_for_header_does_not_help(
    live: tuple[AppProcess, PreparedDatabase],
) -> None:
    app, _ = live
    with ExitStack() as held:
        for _ in range(PER_ADDRESS):
            held.enter_context(listen(app))
        assert refused(app) == 429
        assert refused(app, additional_headers={'x-forwarded-for': '10.1.2.3'}) == 429  # no trusted proxy here
        with listen(app, source_address=('127.0.0.2', 0)):  # another address is served
            pass
    time.sleep(0.5)  # the server has seen the closes
    with listen(app):
        pass


@pytest.mark.parametrize(
    'message',
    [b'\x00\xff' * 64, 'hello', json.dumps({'seq': 0, 'say': '请 A999 号到 1 号窗口办理'}), 'x' * (64 * 1024)],
    ids=['binary-garbage', 'text', 'forged-call', 'large'],
)
def test_anything_a_client_sends_closes_its_socket_and_reaches_no_other_board(
    live: tuple[AppProcess, PreparedDatabase], message: str | bytes
) -> None:
    app, _ = live
    with listen(app) as bystander:
        with listen(app) as talker:
            talker.send(message)
            assert closed_with(talker) == 1008
        number = call_a_ticket(app)
        heard = next_call(bystander)
        assert heard['say'] == f'请 {number} 号到 1 号窗口办理'
        assert 'A999' not in json.dumps(heard)


def test_a_message_over_the_frame_limit_is_cut_off_by_the_server(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    with listen(app) as talker:
        try:
            talker.send(b'\x00' * (MAX_MESSAGE_BYTES + 1))
            code = closed_with(talker)
        except ConnectionClosed as closed:  # cut off while still sending
            code = closed.rcvd.code if closed.rcvd else None
    assert code == 1009  # message too big: uvicorn's ws_max_size, before any handler reads it
    with listen(app):  # the server is fine
        pass


def test_a_reader_that_never_reads_delays_no_other_board(live: tuple[AppProcess, PreparedDatabase]) -> None:
    app, _ = live
    host, port = '127.0.0.1', app.port
    stuck = socket.create_connection((host, port), timeout=10)  # a handshake, then never a byte read
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    stuck.sendall(
        b'GET /live/board HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
        b'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
    )
    try:
        with listen(app) as board:
            for _ in range(5):
                started = time.monotonic()
                number = call_a_ticket(app)
                assert next_call(board)['say'] == f'请 {number} 号到 1 号窗口办理'
                assert time.monotonic() - started < 5
    finally:
        stuck.close()
