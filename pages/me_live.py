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
from functools import partial

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.websockets import WebSocket

from app.api.citizen import CITIZEN_COOKIE
from components.me_live import SOCKET_PATH, me_live_document
from pages.citizen_session import require_citizen
from pages.parts import Parts, Started
from pages.public_socket import PublicSocketDoor
from twin.citizen_live import CitizenPage

NO_STORE = {'cache-control': 'no-store'}


async def me_live_page(started: Started, request: Request) -> Response:
    parts = await started.ready()
    rt = parts.runtime
    caller = await require_citizen(request, started)
    if isinstance(caller, RedirectResponse):
        return caller
    return HTMLResponse(me_live_document(hall_name=rt.hall.name, stand_ins=rt.stand_ins), headers=NO_STORE)


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket) -> None:
        await door.admit(websocket, partial(_listen, websocket))

    return {SOCKET_PATH: serve}


async def _listen(websocket: WebSocket, parts: Parts, address: str) -> None:
    """The citizen session cookie admits the socket, then the process's live pages serve it."""
    live = await parts.runtime.accounts.session(websocket.cookies.get(CITIZEN_COOKIE, ''))
    page = CitizenPage(live.session_id, live.principal.with_address(address))
    async with parts.citizen_live.opened(page):
        await websocket.accept()
        await parts.citizen_live.serve(page, websocket)
