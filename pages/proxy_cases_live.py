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

from app.services.proxy import ProxyAccess
from components.proxy_status import SOCKET_PATH
from pages.parts import Parts, Started
from pages.proxy_follow import follow_grant
from pages.public_socket import PublicSocketDoor
from twin.case_feed import CaseScope


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket, token: str) -> None:
        await door.admit(websocket, partial(_follow, websocket, token))

    return {f'{SOCKET_PATH}/{{token}}/cases': serve}


async def _follow(websocket: WebSocket, token: str, parts: Parts, _address: str) -> None:
    await follow_grant(websocket, token, parts, parts.case_feed, _scope)


def _scope(access: ProxyAccess) -> CaseScope:
    """The grant's scope: the cases opened from its ticket, or its one case."""
    return CaseScope(access.grant.ticket_id, access.grant.case_id)
