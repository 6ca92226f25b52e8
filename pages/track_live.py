"""`/live/track/{code}`: the websocket that feeds /track's live part one ticket's shared status texts.

Who may listen is the tracking service's rule, the same as the page's (`TrackingService.follow`: the slip's
code; unknown codes count against the address and lock it out, as on the page and the API); a refusal is the
service's error as JSON on the upgrade's HTTP answer (403 `tracking_refused`, 429 `tracking_locked`), so the
socket never opens. A code that tracks a case without a ticket has no live status (404). Before that, the public
sockets' door (pages/public_socket.py): origin, `PER_ADDRESS` per address, `TOTAL` per process. What the socket
carries is what the code alone shows (twin/ticket_feed.py): the status, the place in the queue, the window.
A client that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket

from app.fanout import SocketLimits
from app.services.errors import DomainError
from components.track_status import SOCKET_PATH
from pages.parts import Started
from pages.public_socket import PublicSocketDoor, refuse, refuse_for

PER_ADDRESS = 64  # phones behind one hall Wi-Fi or carrier address, each with a reconnect in flight
TOTAL = 10_000  # sockets one process serves for followed tickets (bench/public_pages.py --page track)


class TrackSockets:
    """`/live/track/{code}`: the tracking service admits the code, then the ticket's channel serves the socket."""

    def __init__(self, started: Started, limits: SocketLimits | None = None) -> None:
        self.started = started
        self.door = PublicSocketDoor(limits or SocketLimits(per_address=PER_ADDRESS, total=TOTAL))

    async def serve(self, websocket: WebSocket, code: str) -> None:
        address = await self.door.enter(websocket)
        if address is None:
            return
        try:
            parts = await self.started.ready()
            rt = parts.runtime
            try:
                tracked = await rt.journey.tracking.follow(code, address=address)
            except DomainError as failure:
                await refuse_for(websocket, failure, rt.settings.lang)
                return
            if tracked.ticket_id is None:
                await refuse(websocket, 404, 'this code follows a case, not a ticket')
                return
            followed = await parts.ticket_feed.hold(tracked)
            try:
                await websocket.accept()
                await followed.channel.serve(websocket)
            finally:
                parts.ticket_feed.release(followed)
        finally:
            self.door.leave(address)


def socket_routes(sockets: TrackSockets) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler (registered by `pages.register`)."""
    return {f'{SOCKET_PATH}/{{code}}': sockets.serve}
