"""`/live/proxy/{token}`: the websocket that feeds a relative's light page (亲情代办) its ticket's shared status.

Who may listen is the proxy service's rule, the same as the pages' (`ProxyService.access`: the link's token,
stored hashed, its grant neither ended nor run out); a refusal is its error as JSON on the upgrade's HTTP answer
(403 `proxy_ended`), so the socket never opens. A grant that covers a case without a ticket has no live status
(404). Before that, the public sockets' door (pages/public_socket.py): origin, per address, per process.
The socket carries the ticket's texts from its shared channel (twin/ticket_feed.py), the same as /track's
status page; when the grant ends or runs out while the page is open (twin/grant_watch.py) the socket is closed
with `ACCESS_ENDED` and the page says so. A client that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from starlette.websockets import WebSocket

from app.services.proxy import ProxyAccess
from app.services.tracking import Tracked
from components.proxy_status import SOCKET_PATH
from pages.parts import Parts, Started
from pages.proxy_follow import follow_grant
from pages.public_socket import PublicSocketDoor, Refused


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket, token: str) -> None:
        await door.admit(websocket, partial(_follow, websocket, token))

    return {f'{SOCKET_PATH}/{{token}}': serve}


async def _follow(websocket: WebSocket, token: str, parts: Parts, _address: str) -> None:
    await follow_grant(websocket, token, parts, parts.ticket_feed, _ticket)


def _ticket(access: ProxyAccess) -> Tracked:
    """The ticket the grant covers; a grant of a case alone has no live status."""
    if access.tracked.ticket_id is None:
        raise Refused(404, 'this link follows a case, not a ticket')
    return access.tracked
