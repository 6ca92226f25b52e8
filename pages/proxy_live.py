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

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial

from starlette.websockets import WebSocket

from app.fanout import CLOSE_TIMEOUT
from components.proxy_status import ACCESS_ENDED, SOCKET_PATH
from pages.parts import Parts, Started
from pages.public_socket import PublicSocketDoor, Refused


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket route with its handler behind its own door (registered by `pages.register`)."""
    door = PublicSocketDoor(started)

    async def serve(websocket: WebSocket, token: str) -> None:
        await door.admit(websocket, partial(_follow, websocket, token))

    return {f'{SOCKET_PATH}/{{token}}': serve}


async def _follow(websocket: WebSocket, token: str, parts: Parts, _address: str) -> None:
    """The proxy service admits the link, the grant's watch ends it, the ticket's channel serves it."""
    proxy = parts.runtime.journey.proxy
    access = await proxy.access(token)
    if access.tracked.ticket_id is None:
        raise Refused(404, 'this link follows a case, not a ticket')
    watched = parts.grant_watch.hold(access.grant)
    try:
        await proxy.access(token)  # again, now that its end would be heard: it may have ended since the first look
        followed = await parts.ticket_feed.hold(access.tracked)
        try:
            await websocket.accept()
            await serve_until(websocket, followed.channel.serve(websocket), watched.ended)
        finally:
            parts.ticket_feed.release(followed)
    finally:
        parts.grant_watch.release(watched)


async def serve_until(websocket: WebSocket, serving: Coroutine[object, object, None], ended: asyncio.Event) -> None:
    """Serve the socket until it goes, or until the grant ends: then close it with `ACCESS_ENDED`."""
    loop = asyncio.get_running_loop()
    feed = loop.create_task(serving)
    end = loop.create_task(ended.wait())
    try:
        await asyncio.wait({feed, end}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (feed, end):
            task.cancel()
        await asyncio.gather(feed, end, return_exceptions=True)
    if ended.is_set():
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT):
                await websocket.close(ACCESS_ENDED)
