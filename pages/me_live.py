"""`/me/live` and its socket `/live/me`: a signed-in citizen's tickets and open cases, live, without a NiceGUI client.

The page is a light document (components/me_live.py) for the citizen's session cookie, as /me asks (anonymous or
ended: the sign-in page, which comes back here). The socket asks the same session: no cookie, a forged one, or an
ended session is the accounts service's error as JSON on the upgrade's answer (401 `not_authenticated`,
`session_expired`), so the socket never opens, and it opens only on what that session may see (twin/citizen_live.py:
the account's tickets and cases). Before that, the public sockets' door (pages/public_socket.py): origin, sockets
per address and per process. The socket listens only; it closes with 4401 when the session ends while it is open.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

from app.api.citizen import CITIZEN_COOKIE
from app.fanout import SocketLimits
from app.services.errors import DomainError
from components.me_live import SOCKET_PATH, me_live_document
from pages.citizen_session import require_citizen
from pages.parts import Started
from pages.public_socket import PublicSocketDoor, refuse_for
from twin.citizen_live import CitizenPage

PER_ADDRESS = 64  # phones behind one hall Wi-Fi or carrier address, as for /live/track
TOTAL = 10_000  # citizens' live pages one process serves (bench/public_pages.py --page me)
NO_STORE = {'cache-control': 'no-store'}


async def me_live_page(started: Started, request: Request) -> Response:
    parts = await started.ready()
    rt = parts.runtime
    caller = await require_citizen(request, started)
    if isinstance(caller, RedirectResponse):
        return caller
    return HTMLResponse(me_live_document(hall_name=rt.hall.name, stand_ins=rt.stand_ins), headers=NO_STORE)


class CitizenSockets:
    """`/live/me`: the citizen session cookie admits the socket, then the process's live pages serve it."""

    def __init__(self, started: Started, limits: SocketLimits | None = None) -> None:
        self.started = started
        self.door = PublicSocketDoor(limits or SocketLimits(per_address=PER_ADDRESS, total=TOTAL))

    async def serve(self, websocket: WebSocket) -> None:
        address = await self.door.enter(websocket)
        if address is None:
            return
        try:
            parts = await self.started.ready()
            rt = parts.runtime
            try:
                live = await rt.accounts.session(websocket.cookies.get(CITIZEN_COOKIE, ''))
            except DomainError as failure:
                await refuse_for(websocket, failure, rt.settings.lang)
                return
            page = CitizenPage(live.session_id, live.principal.with_address(address))
            async with parts.citizen_live.opened(page):
                await websocket.accept()
                await parts.citizen_live.serve(page, websocket)
        finally:
            self.door.leave(address)


def socket_routes(sockets: CitizenSockets) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler (registered by `pages.register`)."""
    return {SOCKET_PATH: sockets.serve}
