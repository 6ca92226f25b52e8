"""A stand-in for a browser tab, for attacker tests against the running app: a page and its UI socket.

`open_page` loads a page over HTTP the way a browser does and keeps what the browser would: its
cookies, NiceGUI's client id and the page's elements (ids, test ids, event listeners). `UiSocket`
is the page's socket.io connection as the browser opens it (same-origin `Origin`, the page's
cookies, NiceGUI's implicit handshake in the query) and records every message the server sends it.
aiohttp drops cookies for IP hosts unless its jar is `unsafe`, so the socket brings its own jar.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
import socketio
from yarl import URL

SOCKET_PATH = '/_nicegui_ws/socket.io'  # nicegui.nicegui: app.mount('/_nicegui_ws/', socketio_path='/socket.io')
_ELEMENTS = re.compile(r'parseElements\(String\.raw`(.*?)`\)', re.DOTALL)
_CLIENT_ID = re.compile(r"'client_id': '([0-9a-f-]+)'")
_HTML_UNESCAPE = (('&#36;', '$'), ('&#96;', '`'), ('&gt;', '>'), ('&lt;', '<'), ('&amp;', '&'))  # as nicegui.js


@dataclass
class Page:
    base_url: str
    cookies: dict[str, str]
    client_id: str
    elements: dict[int, dict[str, Any]]
    tab_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def element(self, testid: str) -> int:
        """The id of the element with this data-testid."""
        found = [key for key, element in self.elements.items() if element.get('props', {}).get('data-testid') == testid]
        assert len(found) == 1, f'{testid}: {found}'
        return found[0]

    def listener(self, element_id: int, event_type: str) -> str:
        """The listener id of the element's handler for a DOM/Vue event ('click', 'update:modelValue')."""
        found = [e['listener_id'] for e in self.elements[element_id].get('events', []) if e['type'] == event_type]
        assert found, f'element {element_id} has no {event_type} listener'
        return str(found[0])

    def event(self, testid: str, event_type: str, *args: Any, client_id: str | None = None) -> dict[str, Any]:
        """The `event` message nicegui.js sends when that element fires (args JSON-encoded, as nicegui.js does)."""
        element_id = self.element(testid)
        return {
            'id': element_id,
            'client_id': client_id or self.client_id,
            'listener_id': self.listener(element_id, event_type),
            'args': [json.dumps(arg) for arg in args],
        }

    def upload_url(self) -> str:
        """The upload route of the page's only upload element."""
        urls = [e['props']['url'] for e in self.elements.values() if '/upload/' in str(e.get('props', {}).get('url'))]
        assert len(urls) == 1, urls
        return str(urls[0])

    @property
    def cookie_header(self) -> str:
        return '; '.join(f'{name}={value}' for name, value in self.cookies.items())


async def open_page(base_url: str, path: str, cookies: dict[str, str] | None = None) -> Page:
    """GET a page like a browser (with `cookies` already in the jar, if given) and keep what it would keep."""
    async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=20) as http:
        response = await http.get(path)
        assert response.status_code == 200, response.text[:300]
        jar = {cookie.name: str(cookie.value) for cookie in http.cookies.jar}
    raw = _ELEMENTS.search(response.text)
    client_id = _CLIENT_ID.search(response.text)
    assert raw and client_id, 'not a NiceGUI page'
    text = raw.group(1)
    for escaped, plain in _HTML_UNESCAPE:
        text = text.replace(escaped, plain)
    elements = {int(key): value for key, value in json.loads(text).items()}
    return Page(base_url, jar, client_id.group(1), elements)


class UiSocket:
    """A page's socket.io connection, opened as nicegui.js opens it; `received` is what the server sent it."""

    def __init__(self, page: Page, *, next_message_id: int = 0) -> None:
        self.page = page
        self.next_message_id = next_message_id
        self.received: list[tuple[str, Any]] = []
        self.sio: socketio.AsyncClient | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> UiSocket:
        self._http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self._http.cookie_jar.update_cookies(self.page.cookies, URL(self.page.base_url))
        self.sio = socketio.AsyncClient(reconnection=False, http_session=self._http)

        async def record(event: str, data: Any = None) -> None:
            self.received.append((event, data))

        self.sio.on('*', record)
        query = urlencode(
            {
                'client_id': self.page.client_id,
                'tab_id': self.page.tab_id,
                'document_id': str(uuid.uuid4()),
                'next_message_id': self.next_message_id,
                'implicit_handshake': 'true',
            }
        )
        await self.sio.connect(
            f'{self.page.base_url}?{query}',
            socketio_path=SOCKET_PATH,
            transports=['websocket'],
            headers={'Origin': self.page.base_url},
            wait_timeout=20,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.sio is not None and self._http is not None
        if self.sio.connected:
            await self.sio.disconnect()
        await self._http.close()

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.sio.connected

    async def emit(self, kind: str, message: dict[str, Any]) -> None:
        assert self.sio is not None
        await self.sio.emit(kind, message)

    async def closed_by_server(self, timeout: float = 20) -> bool:
        """Wait until the server hangs up (True), or `timeout` passes with the socket still open (False)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.connected and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        return not self.connected

    async def until(self, kind: str, predicate: Any = None, timeout: float = 20) -> Any:
        """The first message of this kind (that `predicate(data)` accepts), waiting up to `timeout` seconds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for event, data in self.received:
                if event == kind and (predicate is None or predicate(data)):
                    return data
            await asyncio.sleep(0.05)
        raise AssertionError(f'no {kind} message within {timeout} s; received: {[e for e, _ in self.received]}')

    def texts(self, testid: str) -> list[str]:
        """Every text the server pushed for that element, in order (from NiceGUI `update` messages)."""
        element_id = str(self.page.element(testid))
        return [
            str(data[element_id].get('text', ''))
            for event, data in self.received
            if event == 'update' and data.get(element_id)
        ]
