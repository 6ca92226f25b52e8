"""Request-body limits on every route, NiceGUI's upload route included, as an attacker meets them.

A declared body over the limit is answered before it is sent; a chunked one once it passes the
limit, long before the rest arrives: the raw-socket tests send only the start of an 8 MiB body and
get their 413. An upload must also come from the browser that loaded its page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.api.limits import BodySizeLimit
from app.services.certificates import MAX_PRESENTED_BYTES
from app.settings import get_settings
from pages.hardening import MULTIPART_ALLOWANCE, route_body_limit
from tests.apphost import AppProcess, PreparedDatabase, running_app
from tests.security.browser import Page, UiSocket, open_page
from tests.security.routes import assert_error, db_state

EIGHT_MIB = 8 * 1024 * 1024
VERIFY = '/verify/HT20260101-0000000000'  # no such certificate: the page still has its upload
UPLOAD_LIMIT = MAX_PRESENTED_BYTES + MULTIPART_ALLOWANCE
BOUNDARY = 'halltwin-test-boundary'
NOT_JSON = '文件不是有效的电子证照 JSON / not a certificate JSON file'
TOO_LARGE = '文件过大，不是本系统签发的电子证照 / file too large'


# ---- the middleware on its own ---------------------------------------------------------------------


async def _echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """A route that reads its whole body and answers with its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get('body', b''))
        more = message.get('more_body', False)
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': str(size).encode()})


def _guarded_client(own: dict[str, int]) -> httpx.AsyncClient:
    app = BodySizeLimit(_echo_length, max_bytes=1024, limit_for=own.get)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test')


async def test_a_route_with_its_own_limit_gets_that_limit_and_every_other_path_the_default() -> None:
    async with _guarded_client({'/big': 10_000, '/small': 100}) as client:
        assert (await client.post('/big', content=b'x' * 10_000)).text == '10000'
        refused = assert_error(await client.post('/big', content=b'x' * 10_001), 413, 'body_too_large')
        assert '10000' in refused['message'] and '/' in refused['message']  # zh-CN / English, with the limit
        assert_error(await client.post('/small', content=b'x' * 101), 413, 'body_too_large')
        for path in ('/', '/login', '/_nicegui/client/x/upload/1', '/no/such/route'):
            assert (await client.post(path, content=b'x' * 1024)).text == '1024', path
            assert_error(await client.post(path, content=b'x' * 1025), 413, 'body_too_large')
        assert_error(await client.request('GET', '/', content=b'x' * 1025), 413, 'body_too_large')  # any method


async def _call(app: BodySizeLimit, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, int]:
    """Drive the middleware with raw ASGI messages: (status, how many body chunks it pulled)."""
    pulled: list[bytes] = []
    sent: list[Message] = []

    async def receive() -> Message:
        if len(pulled) == len(chunks):
            return {'type': 'http.disconnect'}
        pulled.append(chunks[len(pulled)])
        return {'type': 'http.request', 'body': pulled[-1], 'more_body': len(pulled) < len(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {'type': 'http', 'method': 'POST', 'path': '/api/x', 'headers': headers}
    await app(scope, receive, send)
    return int(sent[0]['status']), len(pulled)


async def test_a_declared_length_over_the_limit_is_refused_without_reading_a_byte() -> None:
    app = BodySizeLimit(_echo_length, max_bytes=1024)
    assert await _call(app, [(b'content-length', b'8388608')], [b'x' * 1024] * 8) == (413, 0)
    assert await _call(app, [(b'content-length', b'1e9')], [b'x']) == (413, 0)


async def test_a_chunked_body_is_read_only_until_it_passes_the_limit() -> None:
    app = BodySizeLimit(_echo_length, max_bytes=1024)
    assert await _call(app, [(b'transfer-encoding', b'chunked')], [b'x' * 512] * 100) == (413, 3)
    assert await _call(app, [(b'transfer-encoding', b'chunked')], [b'x' * 512] * 2) == (200, 2)


async def test_a_small_declared_length_does_not_hide_a_large_chunked_body() -> None:
    app = BodySizeLimit(_echo_length, max_bytes=1024)
    headers = [(b'content-length', b'10'), (b'transfer-encoding', b'chunked')]
    assert await _call(app, headers, [b'x' * 512] * 100) == (413, 3)


# ---- against the running app -----------------------------------------------------------------------


@pytest.fixture(scope='module')
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppProcess, PreparedDatabase, Path]]:
    """The app with its own TMPDIR, so a test can see that no upload was spooled to disk."""
    tmp = tmp_path_factory.mktemp('body-limits')
    spool = tmp / 'spool'
    spool.mkdir()
    with running_app(tmp, extra_env={'TMPDIR': str(spool)}) as (app, prepared):
        yield app, prepared, spool


async def _raw_exchange(app: AppProcess, head: str, body_start: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send a request's head and only the start of its body, then read the answer (which must come now)."""
    reader, writer = await asyncio.open_connection('127.0.0.1', app.port)
    try:
        writer.write(head.encode('latin-1') + body_start)
        await writer.drain()
        raw_head = await asyncio.wait_for(reader.readuntil(b'\r\n\r\n'), 20)
        status_line, *lines = raw_head.decode('latin-1').split('\r\n')
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(':', 1) for line in lines if ':' in line)}
        body = await asyncio.wait_for(reader.readexactly(int(headers['content-length'])), 20)
        return int(status_line.split()[1]), headers, body
    finally:
        writer.close()


def _head(app: AppProcess, path: str, framing: str, cookies: str = '', content_type: str = 'application/json') -> str:
    lines = [f'POST {path} HTTP/1.1', f'Host: 127.0.0.1:{app.port}', f'Content-Type: {content_type}']
    lines.append(f'Content-Length: {EIGHT_MIB}' if framing == 'declared' else 'Transfer-Encoding: chunked')
    if cookies:
        lines.append(f'Cookie: {cookies}')
    return '\r\n'.join(lines) + '\r\n\r\n'


def _chunked(total: int, size: int = 4096) -> bytes:
    """`total` bytes of body in HTTP/1.1 chunks, without the final zero chunk: the body goes on."""
    return b''.join(f'{size:x}\r\n'.encode() + b'x' * size + b'\r\n' for _ in range(total // size + 1))


def _multipart_start() -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="c.json"\r\n'
        'Content-Type: application/json\r\n\r\n'
    ).encode()


def _refused_as_too_large(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413, body[:300]
    assert headers['content-type'].startswith('application/json')
    refusal = json.loads(body)
    assert refusal['code'] == 'body_too_large' and '/' in refusal['message'], refusal


def _spooled_bytes(spool: Path) -> int:
    return sum(path.stat().st_size for path in spool.rglob('*') if path.is_file())


async def _upload(page: Page, content: bytes, cookies: dict[str, str] | None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=page.base_url, cookies=cookies, timeout=60) as http:
        return await http.post(page.upload_url(), files={'file': ('c.json', content, 'application/json')})


@pytest.mark.parametrize('framing', ['declared', 'chunked'])
async def test_an_8_mib_upload_is_refused_before_its_body_is_sent_and_the_page_still_works(
    live: tuple[AppProcess, PreparedDatabase, Path], framing: str
) -> None:
    app, prepared, spool = live
    page = await open_page(app.base_url, VERIFY)
    before = db_state(prepared.url)
    async with UiSocket(page) as socket:
        head = _head(app, page.upload_url(), framing, page.cookie_header, f'multipart/form-data; boundary={BOUNDARY}')
        sent = _multipart_start() if framing == 'declared' else _chunked(UPLOAD_LIMIT + 8192)
        _refused_as_too_large(*await _raw_exchange(app, head, sent))
        assert len(sent) < UPLOAD_LIMIT + 16_384 < EIGHT_MIB  # answered with almost all of the 8 MiB unsent
        assert _spooled_bytes(spool) == 0
        assert socket.texts('verify-error') == []  # the page's upload handler never ran

        answered = await _upload(page, b'not json at all', page.cookies)  # the same page, an honest upload
        assert answered.status_code == 200, answered.text
        await socket.until('update', lambda data: NOT_JSON in json.dumps(data, ensure_ascii=False))
        assert socket.connected
    assert db_state(prepared.url) == before


async def test_an_8_mib_upload_from_an_ordinary_client_is_refused(
    live: tuple[AppProcess, PreparedDatabase, Path],
) -> None:
    app, _, spool = live
    page = await open_page(app.base_url, VERIFY)
    refused = assert_error(await _upload(page, b'x' * EIGHT_MIB, page.cookies), 413, 'body_too_large')
    assert str(UPLOAD_LIMIT) in refused['message']
    assert _spooled_bytes(spool) == 0
    assert (await _upload(page, b'x' * (MAX_PRESENTED_BYTES + 1), page.cookies)).status_code == 200  # within limit


async def test_an_upload_from_another_browser_is_refused_and_the_page_does_not_react(
    live: tuple[AppProcess, PreparedDatabase, Path],
) -> None:
    app, _, _ = live
    page = await open_page(app.base_url, VERIFY)
    other = await open_page(app.base_url, VERIFY)  # another browser: its own NiceGUI session cookie
    async with UiSocket(page) as socket:
        for cookies in (None, other.cookies, {'session': 'forged'}):
            assert_error(await _upload(page, b'forged upload', cookies), 403, 'foreign_upload')
        await asyncio.sleep(1)  # an accepted upload would show its error on the page by now
        assert socket.texts('verify-error') == []
        answered = await _upload(page, b'x' * (MAX_PRESENTED_BYTES + 1), page.cookies)
        assert answered.status_code == 200, answered.text
        await socket.until('update', lambda data: TOO_LARGE in json.dumps(data, ensure_ascii=False))
        assert NOT_JSON not in json.dumps(socket.received, ensure_ascii=False)  # no forged upload reached the page


def _default() -> int:
    return get_settings().max_body_bytes


def _socket_io() -> int:
    limit = route_body_limit('/_nicegui_ws/socket.io/')
    assert limit is not None and limit > _default()  # engine.io's own limit (1 MB), not ours
    return limit


ROUTES = {
    'a NiceGUI page': ('/login', _default),
    'the session hand-off': ('/auth/logout', _default),
    'the API': ('/api/tickets', _default),
    'the API login': ('/api/auth/token', _default),
    'socket.io polling': ('/_nicegui_ws/socket.io/?EIO=4&transport=polling&sid=none', _socket_io),
}


@pytest.mark.parametrize('framing', ['declared', 'chunked'])
@pytest.mark.parametrize('route', list(ROUTES))
async def test_an_oversized_body_is_refused_on_every_route(
    live: tuple[AppProcess, PreparedDatabase, Path], route: str, framing: str
) -> None:
    app, prepared, _ = live
    path, limit = ROUTES[route]
    before = db_state(prepared.url)
    sent = b'{"x": "' if framing == 'declared' else _chunked(limit() + 8192)
    _refused_as_too_large(*await _raw_exchange(app, _head(app, path, framing), sent))
    assert db_state(prepared.url) == before


@pytest.mark.parametrize('route', list(ROUTES))
async def test_a_body_within_the_limit_reaches_the_route(
    live: tuple[AppProcess, PreparedDatabase, Path], route: str
) -> None:
    app, _, _ = live
    path, limit = ROUTES[route]
    async with httpx.AsyncClient(base_url=app.base_url, timeout=60) as http:
        response = await http.post(path, content=b'x' * limit(), headers={'Content-Type': 'application/json'})
    assert response.status_code not in (413, 500), response.text[:300]  # the route's own answer (405, 401, 422, 400)
