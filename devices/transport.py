"""One connection, as the protocol sees it: send text, receive a frame, close with a code.

The hub and the drivers speak only to `Transport`, so a real device (Starlette websocket on the
hub side), a simulated one (the `websockets` client on the device side) and an in-memory pair for
unit tests are interchangeable, as RoSys keeps hardware and simulation behind one module interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed


class TransportClosed(Exception):
    """The other side (or we) closed the connection; `code` is the websocket close code if known."""

    def __init__(self, code: int | None = None, reason: str = '') -> None:
        super().__init__(f'connection closed ({code} {reason})'.strip())
        self.code = code
        self.reason = reason


class Transport(ABC):
    peer: str = ''

    @abstractmethod
    async def send(self, text: str) -> None:
        """Send one text frame; raises TransportClosed once the connection is gone."""

    @abstractmethod
    async def receive(self) -> str | bytes:
        """The next frame (text, or bytes for a binary frame); raises TransportClosed at the end."""

    @abstractmethod
    async def close(self, code: int = 1000, reason: str = '') -> None:
        """Close with a websocket close code; closing twice is harmless."""


class StarletteTransport(Transport):
    """The hub's end of a device's websocket (FastAPI / Starlette)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket
        client = websocket.client
        self.peer = f'{client.host}:{client.port}' if client else ''
        self._send_lock = asyncio.Lock()

    async def send(self, text: str) -> None:
        async with self._send_lock:
            if self.websocket.application_state != WebSocketState.CONNECTED:
                raise TransportClosed()
            try:
                await self.websocket.send_text(text)
            except (WebSocketDisconnect, RuntimeError, OSError) as error:
                raise TransportClosed(getattr(error, 'code', None)) from None

    async def receive(self) -> str | bytes:
        if self.websocket.application_state != WebSocketState.CONNECTED:
            raise TransportClosed()
        try:
            message = await self.websocket.receive()
        except (RuntimeError, OSError):
            raise TransportClosed() from None
        if message['type'] == 'websocket.disconnect':
            raise TransportClosed(message.get('code'), message.get('reason') or '')
        text = message.get('text')
        return text if text is not None else message.get('bytes') or b''

    async def close(self, code: int = 1000, reason: str = '') -> None:
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
                await self.websocket.close(code, reason)


class ClientTransport(Transport):
    """A device's end of the connection (the `websockets` client): what the simulator and tests use."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.peer = str(connection.remote_address)

    async def send(self, text: str) -> None:
        try:
            await self.connection.send(text)
        except ConnectionClosed as error:
            raise _closed(error) from None

    async def receive(self) -> str | bytes:
        try:
            return await self.connection.recv()
        except ConnectionClosed as error:
            raise _closed(error) from None

    async def close(self, code: int = 1000, reason: str = '') -> None:
        await self.connection.close(code, reason)


def _closed(error: ConnectionClosed) -> TransportClosed:
    frame = error.rcvd or error.sent
    return TransportClosed(frame.code if frame else None, frame.reason if frame else '')


class MemoryTransport(Transport):
    """One end of an in-memory pair (`MemoryTransport.pair()`): drivers under test without a network."""

    def __init__(self) -> None:
        self._inbox: asyncio.Queue[str | bytes | TransportClosed] = asyncio.Queue()
        self._other: MemoryTransport | None = None
        self.closed: TransportClosed | None = None

    @classmethod
    def pair(cls) -> tuple[MemoryTransport, MemoryTransport]:
        left, right = cls(), cls()
        left._other, right._other = right, left
        left.peer, right.peer = 'memory:left', 'memory:right'
        return left, right

    async def send(self, text: str) -> None:
        if self.closed or self._other is None:
            raise self.closed or TransportClosed()
        self._other._inbox.put_nowait(text)

    async def receive(self) -> str | bytes:
        if self.closed and self._inbox.empty():
            raise self.closed
        item = await self._inbox.get()
        if isinstance(item, TransportClosed):
            self.closed = item
            raise item
        return item

    async def close(self, code: int = 1000, reason: str = '') -> None:
        if self.closed:
            return
        self.closed = TransportClosed(code, reason)
        self._inbox.put_nowait(self.closed)
        if self._other is not None and not self._other.closed:
            self._other._inbox.put_nowait(TransportClosed(code, reason))
