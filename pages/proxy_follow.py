"""How a relative's live socket follows what its grant covers, for both proxy sockets (the ticket's status and the
cases): admitted by the proxy service, ended by the grant's watch, served by the feed's shared channel.

The link is checked twice: once to know the grant, again once its watch is held, so an end between the two looks
is not missed. When the grant ends or runs out while the page is open the socket is closed with `ACCESS_ENDED`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Protocol, TypeVar

from starlette.websockets import WebSocket

from app.fanout import CLOSE_TIMEOUT, Socket
from app.services.proxy import ProxyAccess
from components.proxy_status import ACCESS_ENDED
from pages.parts import Parts


class Served(Protocol):
    async def serve(self, socket: Socket) -> None: ...


class Followed(Protocol):
    @property
    def channel(self) -> Served: ...


Key = TypeVar('Key', contravariant=True)
Held = TypeVar('Held', bound=Followed)


class GrantFeed(Protocol[Key, Held]):
    """A twin feed a socket holds one of its channels from (twin/ticket_feed.py, twin/case_feed.py)."""

    async def hold(self, key: Key, /) -> Held: ...

    def release(self, followed: Held, /) -> None: ...


async def follow_grant(
    websocket: WebSocket,
    token: str,
    parts: Parts,
    feed: GrantFeed[Key, Held],
    key: Callable[[ProxyAccess], Key],
) -> None:
    """Admit the link, hold the grant's watch and `feed`'s channel for `key(access)` (which may refuse), serve it."""
    proxy = parts.runtime.journey.proxy
    access = await proxy.access(token)
    followed_key = key(access)
    watched = parts.grant_watch.hold(access.grant)
    try:
        await proxy.access(token)  # again, now that its end would be heard: it may have ended since the first look
        followed = await feed.hold(followed_key)
        try:
            await websocket.accept()
            await _serve_until(websocket, followed.channel.serve(websocket), watched.ended)
        finally:
            feed.release(followed)
    finally:
        parts.grant_watch.release(watched)


async def _serve_until(websocket: WebSocket, serving: Coroutine[object, object, None], ended: asyncio.Event) -> None:
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
