"""The door of every public live socket (call boards, /track): a browser page of another site is refused (the
same allowed origins as the UI socket, pages/hardening.py), one address holds at most its share of the process's
sockets and the process its total. Each refusal is an HTTP answer to the upgrade, so the socket never opens.
"""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.websockets import WebSocket

from app.api.errors import error_body
from app.fanout import SocketLimits
from app.security.addresses import client_address
from app.services.errors import DomainError
from app.settings import get_settings

log = logging.getLogger(__name__)


class PublicSocketDoor:
    """Who may open a public socket at all; what it may listen to is the caller's (and its service's) question."""

    def __init__(self, limits: SocketLimits) -> None:
        self.limits = limits
        settings = get_settings()
        self.origins = frozenset(settings.allowed_origins)
        self.proxies = settings.trusted_proxies

    def address(self, websocket: WebSocket) -> str:
        peer = websocket.client.host if websocket.client else ''
        return client_address(peer, websocket.headers.get('x-forwarded-for'), self.proxies)

    async def enter(self, websocket: WebSocket) -> str | None:
        """The address holding one more socket (`leave` gives it back), or None once the upgrade was refused."""
        origin = websocket.headers.get('origin')
        if origin is not None and origin.rstrip('/') not in self.origins:  # a browser on another site's page
            log.warning('refused a public socket from a foreign origin')
            await refuse(websocket, 403, 'foreign origin')
            return None
        address = self.address(websocket)
        if not self.limits.take(address):
            await refuse(websocket, 429, 'too many open sockets from this address')
            return None
        return address

    def leave(self, address: str) -> None:
        self.limits.give_back(address)


async def refuse(websocket: WebSocket, status: int, why: str) -> None:
    """Answer the upgrade request with an HTTP status: the socket never opens."""
    await websocket.send_denial_response(PlainTextResponse(why, status_code=status))


async def refuse_for(websocket: WebSocket, failure: DomainError, lang: str) -> None:
    """A service said no: its status and its error as JSON (`code`, `message`), as the API answers it."""
    body = error_body(failure.code, failure.render(lang))
    await websocket.send_denial_response(JSONResponse(body, status_code=failure.status))
