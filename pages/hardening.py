"""NiceGUI hardening: who may talk to a page, and only from the browser that loaded it.

NiceGUI's socket.io server accepts any origin, its handshake checks only the client id, and its
message handlers (`event`, `javascript_response`, `ack`, `log`) act on whatever client a message
names, whichever socket sent it. Its upload routes read any body an anonymous request sends (an
element's `max_file_size` is only checked in the browser). We restrict origins, bind each client to
the browser session seen when it was rendered (NiceGUI's signed session cookie, our staff cookie and a
kiosk screen's credential cookie), accept a client's messages only from a socket bound to that client,
and give each upload route its element's own body limit and the same browser check.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
from base64 import b64decode
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

import itsdangerous
import socketio
from nicegui import core
from nicegui.client import Client
from nicegui.elements.upload import Upload
from starlette.requests import Request, cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.hall_config import IMPORT_PATH
from app.api.kiosk_pairing import KIOSK_COOKIE
from app.api.web_session import SESSION_COOKIE
from app.services.hall_config import MAX_ZIP_BYTES

log = logging.getLogger(__name__)
Handler = Callable[..., Any]

CLIENT_MESSAGES = ('event', 'javascript_response', 'ack', 'log')  # each names the client it acts on
SESSION_EVENTS = ('connect', 'handshake', 'disconnect')  # the handshake checks guard connect and handshake
SOCKET_PREFIX = '/_nicegui_ws/'  # nicegui.nicegui: app.mount('/_nicegui_ws/', sio_app)
UPLOAD_PATH = re.compile(r'/_nicegui/client/(?P<client>[^/]+)/upload/(?P<element>\d+)')  # nicegui/elements/upload.py
MULTIPART_ALLOWANCE = 2048  # boundary lines and part headers around one file, a long file name included


def _browser_id(cookie_value: str | None, secret: str) -> str | None:
    """The NiceGUI browser id inside Starlette's signed session cookie (None if absent or forged)."""
    if not cookie_value:
        return None
    try:
        raw = itsdangerous.TimestampSigner(secret).unsign(cookie_value.encode())
        return json.loads(b64decode(raw)).get('id')
    except (itsdangerous.BadSignature, ValueError):
        return None


def _socket_cookies(environ: Mapping[str, Any]) -> dict[str, str]:
    return cookie_parser(environ.get('HTTP_COOKIE', ''))


def same_browser(page_request: Request, cookies: Mapping[str, str], secret: str) -> bool:
    """Do these cookies come from the browser that loaded the page (same NiceGUI session, same staff login)?"""
    page_browser = page_request.session.get('id') if 'session' in page_request.scope else None
    if page_browser != _browser_id(cookies.get('session'), secret):
        return False
    return all(page_request.cookies.get(name) == cookies.get(name) for name in (SESSION_COOKIE, KIOSK_COOKIE))


def _query_client_id(environ: Mapping[str, Any]) -> str:
    values = parse_qs(environ.get('QUERY_STRING', '')).get('client_id', [''])
    return values[0]


# ---- uploads ---------------------------------------------------------------------------------------


def _upload(path: str) -> tuple[Client, Upload] | None:
    """The live client and upload element an upload route path names, if both exist."""
    match = UPLOAD_PATH.fullmatch(path)
    if match is None:
        return None
    client = Client.instances.get(match['client'])
    element = client.elements.get(int(match['element'])) if client is not None else None
    return (client, element) if client is not None and isinstance(element, Upload) else None


def route_body_limit(path: str) -> int | None:
    """A route's own body limit, or None for the default (for `app.api.limits.BodySizeLimit`).

    A single-file upload takes its element's `max_file_size` plus the multipart wrapping; an upload
    without one (or with several files) keeps the default. Socket.io polling takes engine.io's own
    limit, which engine.io checks only against a declared length, after a chunked body is read whole.
    """
    if path.startswith(SOCKET_PREFIX):
        return int(core.sio.eio.max_http_buffer_size)
    if path == IMPORT_PATH:
        return MAX_ZIP_BYTES  # a hall zip (app/services/hall_config.py): its own bound, checked again there
    found = _upload(path)
    if found is None:
        return None
    props = found[1].props
    size = props.get('max-file-size')
    if size is None or props.get('multiple'):
        return None
    return int(size) + MULTIPART_ALLOWANCE


class UploadGuard:
    """An upload goes only to a page of the browser that loaded it; any other caller gets 403, its body unread."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _upload(str(scope.get('path', ''))) if scope['type'] == 'http' else None
        if found is not None and not same_browser(found[0].request, Request(scope).cookies, self.secret):
            log.warning('refused an upload to a page from another browser')
            message = '只能从打开此页面的浏览器上传 / uploads are accepted only from the browser that opened the page'
            refusal = JSONResponse({'code': 'foreign_upload', 'message': message}, status_code=403)
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)


# ---- the UI socket -----------------------------------------------------------------------------------


def _bound(sio: socketio.AsyncServer, sid: str, message: Any) -> bool:
    """Is the socket in the room of the client the message names? The handshake puts it there."""
    client_id = message.get('client_id') if isinstance(message, dict) else None
    if not isinstance(client_id, str):
        return False
    return any(member == sid for member, _ in sio.manager.get_participants('/', client_id))


def _bound_only(sio: socketio.AsyncServer, kind: str, handler: Handler) -> Handler:
    """NiceGUI's handler for a client message, run only for a socket bound to that client.

    A browser's socket names only its own client, so any other socket is not a page of ours: it is
    closed after its first such message (one log line, no flood).
    """

    @functools.wraps(handler)
    async def guarded(sid: str, *args: Any) -> Any:
        if len(args) == 1 and _bound(sio, sid, args[0]):
            result = handler(sid, *args)
            return await result if inspect.isawaitable(result) else result
        log.warning('closed a UI socket that sent %s for a client it is not bound to', kind)
        await sio.disconnect(sid)
        return None

    return guarded


def install(allowed_origins: list[str], secret: str) -> None:
    """Idempotent: NiceGUI's test harness runs the composition root once per test.

    Each guard wraps NiceGUI's own handler (`__wrapped__`), and a second install wraps that handler
    again, never a guard. Both ways into a client are guarded: the `handshake` event, and the
    implicit handshake that NiceGUI's own `connect` handler performs when the socket's query says
    `implicit_handshake=true` (it calls NiceGUI's handshake function directly, so guarding the event
    alone would leave that door open).
    """
    sio = core.sio
    sio.eio.cors_allowed_origins = allowed_origins
    nicegui_handlers = {name: inspect.unwrap(handler) for name, handler in sio.handlers['/'].items()}
    unguarded = set(nicegui_handlers) - {*CLIENT_MESSAGES, *SESSION_EVENTS}
    if unguarded:  # a NiceGUI upgrade added a way in: refuse to serve until it has a guard here
        raise RuntimeError(f'NiceGUI socket handlers without a guard: {sorted(unguarded)}')
    original_connect, original_handshake = nicegui_handlers['connect'], nicegui_handlers['handshake']

    def foreign(sid: str, client_id: str, environ: Mapping[str, Any]) -> bool:
        client = Client.instances.get(client_id)
        if client is None or sid.startswith('test-') or same_browser(client.request, _socket_cookies(environ), secret):
            return False
        log.warning('refused a UI socket for a client from another browser')
        return True

    @functools.wraps(original_connect)
    async def guarded_connect(sid: str, environ: dict[str, Any], auth: Any = None) -> Any:
        if foreign(sid, _query_client_id(environ), environ):
            # NiceGUI's page reloads on this message: a legitimate page whose cookies changed gets a fresh client
            raise socketio.exceptions.ConnectionRefusedError('Implicit handshake failed')
        return await original_connect(sid, environ, auth)

    @functools.wraps(original_handshake)
    async def guarded_handshake(sid: str, data: Any) -> bool:
        if not isinstance(data, dict) or foreign(sid, str(data.get('client_id', '')), sio.get_environ(sid) or {}):
            return False
        return bool(await original_handshake(sid, data))

    sio.on('connect', guarded_connect)
    sio.on('handshake', guarded_handshake)
    for kind in CLIENT_MESSAGES:
        sio.on(kind, _bound_only(sio, kind, nicegui_handlers[kind]))
