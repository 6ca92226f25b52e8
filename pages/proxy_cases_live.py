"""`/live/proxy/{token}/cases`: the websocket that feeds a relative's light page (亲情代办) the cases its grant covers.

Who may listen is the proxy service's rule, the same as the pages' (`ProxyService.access`: the link's token,
stored hashed, its grant neither ended nor run out); a refusal is its error as JSON on the upgrade's HTTP answer
(403 `proxy_ended`), so the socket never opens. What it carries is the grant's scope and nothing it names: the
cases opened from the grant's ticket, or the grant's one case (twin/case_feed.py), never another case of the
citizen. Before that, the public sockets' door (pages/public_socket.py): origin, per address, per process. When
the grant ends or runs out while the page is open (twin/grant_watch.py) the socket is closed with
`ACCESS_ENDED` and the page says so. A client that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket

from app.fanout import SocketLimits
from app.services.errors import DomainError
from components.proxy_status import SOCKET_PATH
from pages.parts import Started
from pages.proxy_live import _serve_until
from pages.public_socket import PublicSocketDoor, refuse_for
from pages.track_live import PER_ADDRESS, TOTAL
from twin.case_feed import CaseScope


class ProxyCaseSockets:
    """`/live/proxy/{token}/cases`: the proxy service admits the link, the grant's watch ends it, the scope's
    channel serves it."""

    def __init__(self, started: Started, limits: SocketLimits | None = None) -> None:
        self.started = started
        self.door = PublicSocketDoor(limits or SocketLimits(per_address=PER_ADDRESS, total=TOTAL))

    async def serve(self, websocket: WebSocket, token: str) -> None:
        address = await self.door.enter(websocket)
        if address is None:
            return
        try:
            parts = await self.started.ready()
            proxy = parts.runtime.journey.proxy
            try:
                access = await proxy.access(token)
            except DomainError as failure:
                await refuse_for(websocket, failure, parts.runtime.settings.lang)
                return
            watched = parts.grant_watch.hold(access.grant)
            try:
                try:  # again, now that its end would be heard: it may have ended since the first look
                    await proxy.access(token)
                except DomainError as failure:
                    await refuse_for(websocket, failure, parts.runtime.settings.lang)
                    return
                followed = await parts.case_feed.hold(CaseScope(access.grant.ticket_id, access.grant.case_id))
                try:
                    await websocket.accept()
                    await _serve_until(websocket, followed.channel.serve(websocket), watched.ended)
                finally:
                    parts.case_feed.release(followed)
            finally:
                parts.grant_watch.release(watched)
        finally:
            self.door.leave(address)


def socket_routes(sockets: ProxyCaseSockets) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler (registered by `pages.register`)."""
    return {f'{SOCKET_PATH}/{{token}}/cases': sockets.serve}
