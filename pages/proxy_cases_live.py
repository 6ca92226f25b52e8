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
from functools import partial

from starlette.websockets import WebSocket

from components.proxy_status import SOCKET_PATH
from pages.parts import Parts, Started
from pages.proxy_live import serve_until
from pages.public_socket import PublicSocketDoor
from twin.case_feed import CaseScope


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket, token: str) -> None:
        await door.admit(websocket, partial(_follow, websocket, token))

    return {f'{SOCKET_PATH}/{{token}}/cases': serve}


async def _follow(websocket: WebSocket, token: str, parts: Parts, _address: str) -> None:
    """The proxy service admits the link, the grant's watch ends it, the scope's channel serves it."""
    proxy = parts.runtime.journey.proxy
    access = await proxy.access(token)
    watched = parts.grant_watch.hold(access.grant)
    try:
        await proxy.access(token)  # again, now that its end would be heard: it may have ended since the first look
        followed = await parts.case_feed.hold(CaseScope(access.grant.ticket_id, access.grant.case_id))
        try:
            await websocket.accept()
            await serve_until(websocket, followed.channel.serve(websocket), watched.ended)
        finally:
            parts.case_feed.release(followed)
    finally:
        parts.grant_watch.release(watched)
