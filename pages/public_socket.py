"""The door of every public live socket (call boards, /track, /proxy, /me/live), and its one way of saying no.

A browser page of another site is refused (the same allowed origins as the UI socket, pages/hardening.py), one
address holds at most its share of the process's sockets and the process its total. Then the route's listener asks
its service who may listen (the rule stays in the service) and serves. Every refusal before the socket opens, the
door's own, the page's (`Refused`) and a service's (`DomainError`, as JSON, as the API answers it), is an HTTP
answer to the upgrade, so the socket never opens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.websockets import WebSocket, WebSocketState

from app.api.errors import error_body
from app.fanout import SocketLimits
from app.security.addresses import client_address
from app.services.errors import DomainError
from app.settings import get_settings
from pages.parts import Parts, Started

log = logging.getLogger(__name__)

PER_ADDRESS = 64  # phones behind one hall Wi-Fi or carrier address, each with a reconnect in flight
TOTAL = 10_000  # sockets of one route one process serves (bench/public_pages.py --page track, --page me)

Listener = Callable[[Parts, str], Awaitable[None]]  # given the parts and the caller's address: admit, accept, serve


class Refused(Exception):
    """A page's own no, before the socket opens (a code that follows a case, no such zone): status and plain words."""

    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


class PublicSocketDoor:
    """Who may open a public socket at all; what it may listen to is the listener's (and its service's) question."""

    def __init__(self, started: Started, *, per_address: int = PER_ADDRESS, total: int = TOTAL) -> None:
        self.started = started
        self.limits = SocketLimits(per_address=per_address, total=total)
        settings = get_settings()
        self.origins = frozenset(settings.allowed_origins)
        self.proxies = settings.trusted_proxies

    async def admit(self, websocket: WebSocket, listen: Listener) -> None:
        """Through the door, then `listen` until the socket goes, then its place is given back. What `listen` refuses
        before it accepts the socket is the upgrade's answer; once the socket is open, an error is an error."""
        origin = websocket.headers.get('origin')
        if origin is not None and origin.rstrip('/') not in self.origins:  # a browser on another site's page
            log.warning('refused a public socket from a foreign origin')
            await websocket.send_denial_response(PlainTextResponse('foreign origin', status_code=403))
            return
        peer = websocket.client.host if websocket.client else ''
        address = client_address(peer, websocket.headers.get('x-forwarded-for'), self.proxies)
        if not self.limits.take(address):
            too_many = PlainTextResponse('too many open sockets from this address', status_code=429)
            await websocket.send_denial_response(too_many)
            return
        try:
            parts = await self.started.ready()
            try:
                await listen(parts, address)
            except (Refused, DomainError) as refusal:
                if websocket.application_state != WebSocketState.CONNECTING:
                    raise
                await websocket.send_denial_response(_answer(refusal, parts.runtime.settings.lang))
        finally:
            self.limits.give_back(address)


def _answer(refusal: Refused | DomainError, lang: str) -> Response:
    """The page's refusal in plain words; a service's as the API answers it (`code`, `message`)."""
    if isinstance(refusal, Refused):
        return PlainTextResponse(refusal.why, status_code=refusal.status)
    return JSONResponse(error_body(refusal.code, refusal.render(lang)), status_code=refusal.status)
