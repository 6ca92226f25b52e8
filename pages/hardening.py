"""NiceGUI hardening: who may open the UI websocket, and only from the browser that loaded the page.

NiceGUI's socket.io server accepts any origin, and its handshake checks only the client id: an id
copied into another browser would take over the page. We restrict origins and bind each client to
the browser session (NiceGUI's signed session cookie, our staff cookie and a kiosk screen's credential cookie)
seen when it was rendered.
"""

from __future__ import annotations

import json
import logging
from base64 import b64decode
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import itsdangerous
import socketio
from nicegui import core
from nicegui.client import Client
from starlette.requests import Request

from app.api.kiosk_pairing import KIOSK_COOKIE
from app.api.web_session import SESSION_COOKIE

log = logging.getLogger(__name__)
Handshake = Callable[[str, dict[str, Any]], Awaitable[bool]]
Connect = Callable[..., Awaitable[Any]]


def _browser_id(cookie_value: str | None, secret: str) -> str | None:
    """The NiceGUI browser id inside Starlette's signed session cookie (None if absent or forged)."""
    if not cookie_value:
        return None
    try:
        raw = itsdangerous.TimestampSigner(secret).unsign(cookie_value.encode())
        return json.loads(b64decode(raw)).get('id')
    except (itsdangerous.BadSignature, ValueError):
        return None


def _cookies(environ: dict[str, Any]) -> dict[str, str]:
    jar = SimpleCookie()
    jar.load(environ.get('HTTP_COOKIE', ''))
    return {name: morsel.value for name, morsel in jar.items()}


def same_browser(page_request: Request, environ: dict[str, Any], secret: str) -> bool:
    """Does this socket come from the browser that loaded the page?"""
    cookies = _cookies(environ)
    page_browser = page_request.session.get('id') if 'session' in page_request.scope else None
    if page_browser != _browser_id(cookies.get('session'), secret):
        return False
    return all(page_request.cookies.get(name) == cookies.get(name) for name in (SESSION_COOKIE, KIOSK_COOKIE))


def _query_client_id(environ: dict[str, Any]) -> str:
    values = parse_qs(environ.get('QUERY_STRING', '')).get('client_id', [''])
    return values[0]


_nicegui_handshake: Handshake | None = None
_nicegui_connect: Connect | None = None


def install(allowed_origins: list[str], secret: str) -> None:
    """Idempotent: NiceGUI's test harness runs the composition root once per test.

    Both ways into a client are guarded: the `handshake` event, and the implicit handshake that NiceGUI's
    own `connect` handler performs when the socket's query says `implicit_handshake=true` (it calls
    NiceGUI's handshake function directly, so guarding the event alone would leave that door open).
    """
    global _nicegui_handshake, _nicegui_connect
    sio = core.sio
    sio.eio.cors_allowed_origins = allowed_origins
    if _nicegui_handshake is None:
        _nicegui_handshake = sio.handlers['/']['handshake']
    if _nicegui_connect is None:
        _nicegui_connect = sio.handlers['/']['connect']
    original_handshake, original_connect = _nicegui_handshake, _nicegui_connect

    def foreign(sid: str, client_id: str, environ: dict[str, Any]) -> bool:
        client = Client.instances.get(client_id)
        if client is None or sid.startswith('test-') or same_browser(client.request, environ, secret):
            return False
        log.warning('refused a UI socket for a client from another browser')
        return True

    async def guarded_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        if foreign(sid, _query_client_id(environ), environ):
            # NiceGUI's page reloads on this message: a legitimate page whose cookies changed gets a fresh client
            raise socketio.exceptions.ConnectionRefusedError('Implicit handshake failed')
        return await original_connect(sid, environ, auth)

    async def guarded_handshake(sid: str, data: dict[str, Any]) -> bool:
        if foreign(sid, str(data.get('client_id', '')), sio.get_environ(sid) or {}):
            return False
        return await original_handshake(sid, data)

    sio.on('connect', guarded_connect)
    sio.on('handshake', guarded_handshake)
