"""One text, many sockets: the live part of public pages (call boards) for thousands of open browsers.

A `Channel` is one public scope (the hall's board, a zone's board). Each change is serialised ONCE into a
JSON text by the caller and the same `str` is queued for every subscriber; a subscriber's socket is fed
by its own small task, so a slow reader waits alone. Its queue is bounded: a reader that falls
`queue_limit` messages behind is dropped (its socket closed with 1013, "try again later"), never
allowed to block the others or to grow the server's memory. A joining subscriber gets the channel's
snapshot first (computed once per change, on demand), so a reconnecting page shows the right state at
once; every text carries the channel's sequence number, so a page can tell that it missed one.

Public sockets listen only: any message a client sends closes its socket (1008). `SocketLimits` caps
open sockets per address and per process. Nothing here knows NiceGUI or what a board shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

QUEUE_LIMIT = 16  # messages a subscriber may lag behind before it is dropped
CLOSE_TIMEOUT = 2.0  # a dropped or leaving socket gets this long to take its close frame
LISTEN_ONLY = 1008  # policy violation: a public socket takes no messages
TOO_SLOW = 1013  # try again later: the reader fell behind (the page reconnects and takes a snapshot)


class Socket(Protocol):
    """What a channel needs of an accepted websocket (Starlette's WebSocket has these)."""

    async def send_text(self, data: str) -> None: ...

    async def receive(self) -> dict[str, object]: ...

    async def close(self, code: int = 1000, reason: str | None = None) -> None: ...


class Subscriber:
    """One open page: its bounded queue of texts, fed by the channel, drained by `pump`."""

    def __init__(self, limit: int) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=limit)
        self.dropped = False
        self.lost = asyncio.Event()  # set when dropped: the socket's handler closes it

    def offer(self, text: str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped = True
            self.lost.set()

    async def pump(self, socket: Socket) -> None:
        while True:
            await socket.send_text(await self.queue.get())


@dataclass
class ChannelStats:
    subscribers: int = 0
    published: int = 0
    dropped: int = 0  # slow readers closed
    refused_messages: int = 0  # sockets closed because the client talked


class Channel:
    """One scope's subscribers and sequence; `snapshot(seq)` gives the full state as a text for that number."""

    def __init__(self, snapshot: Callable[[int], str], *, queue_limit: int = QUEUE_LIMIT) -> None:
        self._snapshot = snapshot
        self._cached: str | None = None  # the snapshot for the current seq, made at the first join after a change
        self.queue_limit = queue_limit
        self.seq = 0
        self.subscribers: set[Subscriber] = set()
        self.stats = ChannelStats()

    def publish(self, message: Callable[[int], str]) -> None:
        """Take the next number, build the text once (`message(seq)`) and queue it for every subscriber."""
        self.seq += 1
        self._cached = None
        text = message(self.seq)
        self.stats.published += 1
        for subscriber in self.subscribers:
            subscriber.offer(text)

    def snapshot(self) -> str:
        if self._cached is None:
            self._cached = self._snapshot(self.seq)
        return self._cached

    def join(self, subscriber: Subscriber | None = None) -> Subscriber:
        """A new subscriber (or the caller's own: a page that listens to several channels on one socket), fed the
        snapshot first."""
        subscriber = subscriber or Subscriber(self.queue_limit)
        subscriber.offer(self.snapshot())
        self.subscribers.add(subscriber)
        self.stats.subscribers = len(self.subscribers)
        return subscriber

    def leave(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        self.stats.subscribers = len(self.subscribers)
        if subscriber.dropped:
            self.stats.dropped += 1

    def close_all(self) -> None:
        """Drop every subscriber (the scope is gone): each page reconnects and is told what is there now."""
        for subscriber in list(self.subscribers):
            subscriber.dropped = True
            subscriber.lost.set()

    async def serve(self, socket: Socket) -> None:
        """Feed an accepted socket until it leaves, talks (closed 1008) or falls behind (closed 1013)."""
        subscriber = self.join()
        pump = asyncio.get_running_loop().create_task(subscriber.pump(socket))
        listen = asyncio.get_running_loop().create_task(socket.receive())
        lost = asyncio.get_running_loop().create_task(subscriber.lost.wait())
        code: int | None = None
        try:
            done, _ = await asyncio.wait({pump, listen, lost}, return_when=asyncio.FIRST_COMPLETED)
            if listen in done and not listen.exception() and listen.result().get('type') == 'websocket.receive':
                self.stats.refused_messages += 1
                code = LISTEN_ONLY
            elif lost in done:
                code = TOO_SLOW
        finally:
            for task in (pump, listen, lost):
                task.cancel()
            self.leave(subscriber)
        if code is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await socket.close(code)


class SocketLimits:
    """Open public sockets per address and per process: one address cannot hold the server's capacity."""

    def __init__(self, *, per_address: int, total: int) -> None:
        self.per_address = per_address
        self.total = total
        self.open: Counter[str] = Counter()
        self.count = 0
        self.refused = 0

    def take(self, address: str) -> bool:
        if self.open[address] >= self.per_address or self.count >= self.total:
            self.refused += 1
            return False
        self.open[address] += 1
        self.count += 1
        return True

    def give_back(self, address: str) -> None:
        self.open[address] -= 1
        self.count -= 1
        if self.open[address] <= 0:
            del self.open[address]
