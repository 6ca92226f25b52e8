"""`/live/track/{code}`: the websocket that feeds /track's live part one ticket's shared status texts.

Who may listen is the tracking service's rule, the same as the page's (`TrackingService.follow`: the slip's
code; unknown codes count against the address and lock it out, as on the page and the API); a refusal is the
service's error as JSON on the upgrade's HTTP answer (403 `tracking_refused`, 429 `tracking_locked`), so the
socket never opens. A code that tracks a case without a ticket has no live status (404). Before that, the public
sockets' door (pages/public_socket.py): origin, sockets per address and per process. What the socket
carries is what the code alone shows (twin/ticket_feed.py): the status, the place in the queue, the window.
A client that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from starlette.websockets import WebSocket

from components.track_status import SOCKET_PATH
from pages.parts import Parts, Started
from pages.public_socket import PublicSocketDoor, Refused


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket, code: str) -> None:
        await door.admit(websocket, partial(_follow, websocket, code))

    return {f'{SOCKET_PATH}/{{code}}': serve}


async def _follow(websocket: WebSocket, code: str, parts: Parts, address: str) -> None:
    """The tracking service admits the code, then the ticket's channel serves the socket."""
    tracked = await parts.runtime.journey.tracking.follow(code, address=address)
    if tracked.ticket_id is None:
        raise Refused(404, 'this code follows a case, not a ticket')
    followed = await parts.ticket_feed.hold(tracked)
    try:
        await websocket.accept()
        await followed.channel.serve(websocket)
    finally:
        parts.ticket_feed.release(followed)
