"""The device side of the protocol: connect, hello, heartbeat, send with retries, answer commands, reconnect.

What a real device's firmware does, per docs/device-protocol.md: reconnect with exponential backoff
and jitter (reset once welcomed), stop on a refused credential, resend an unacknowledged frame with
the same id (the hub ignores the duplicate), and heartbeat at the interval the welcome names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidHandshake

from devices import protocol
from devices.transport import ClientTransport, Transport, TransportClosed

log = logging.getLogger(__name__)

CommandHandler = Callable[['DeviceClient', str, str, dict[str, Any]], Awaitable[None]]
COMMANDS = frozenset({'print', 'announce', 'capture', 'enrol_capture', 'indicator', 'show_rating'})
LinkHandler = Callable[[bool], None]


class AuthRefused(Exception):
    """The hub refused the device's credential: retrying cannot help until it is fixed."""


class Refused(Exception):
    """The hub answered a frame with an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f'{code}: {message}')
        self.code = code


@dataclass
class Backoff:
    """Exponential backoff with jitter: initial, x factor per failure, capped; the delay is scaled by 1-jitter..1."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        return delay * (1 - self.jitter * self.rng.random())

    def reset(self) -> None:
        self.failures = 0


class DeviceClient:
    def __init__(
        self,
        url: str,
        code: str,
        credential: str,
        *,
        on_command: CommandHandler | None = None,
        backoff: Backoff | None = None,
        ack_timeout: float = 5.0,
        firmware: str = 'halltwin-sim/1',
        on_link: LinkHandler | None = None,
    ) -> None:
        self.url = url
        self.code = code
        self.credential = credential
        self.on_command = on_command
        self.backoff = backoff or Backoff()
        self.ack_timeout = ack_timeout
        self.firmware = firmware
        self.on_link = on_link  # told True once welcomed and False when that connection ends
        self.connected = asyncio.Event()
        self.welcome: dict[str, Any] = {}
        self.attempts: list[float] = []  # monotonic time of every connection attempt
        self.heartbeats = True  # False: stay connected but silent (a hung device)
        self._transport: Transport | None = None
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    # ---- connection ----------------------------------------------------------------------------

    async def run(self) -> None:
        """Stay connected until `stop()`; AuthRefused ends it (a wrong credential never heals by retrying)."""
        while not self._stopping:
            self.attempts.append(time.monotonic())
            try:
                await self._session()
            except AuthRefused:
                log.error('device %s: credential refused by the hub; not retrying', self.code)
                raise
            except (OSError, TimeoutError, InvalidHandshake, TransportClosed):
                pass
            if self._stopping:
                return
            await asyncio.sleep(self.backoff.next_delay())

    async def stop(self) -> None:
        self._stopping = True
        await self.disconnect()

    async def disconnect(self) -> None:
        """Drop the current connection (the run loop reconnects unless stopping)."""
        if self._transport is not None:
            await self._transport.close(1000, 'device closing')

    async def _session(self) -> None:
        # proxy=None: a device talks to its hub directly (no proxy environment read at every connect)
        async with connect(
            self.url, open_timeout=self.ack_timeout, max_size=2**20, compression=None, proxy=None
        ) as connection:
            transport = ClientTransport(connection)
            await self._hello(transport)
            self.backoff.reset()
            self._transport = transport
            self.connected.set()
            if self.on_link is not None:
                self.on_link(True)
            beat = asyncio.get_running_loop().create_task(self._heartbeat(transport))
            try:
                await self._read(transport)
            finally:
                self.connected.clear()
                self._transport = None
                beat.cancel()
                if self.on_link is not None:
                    self.on_link(False)

    async def _hello(self, transport: Transport) -> None:
        hello = {'device': self.code, 'credential': self.credential, 'firmware': self.firmware}
        await transport.send(protocol.encode('hello', hello))
        try:
            while True:
                async with asyncio.timeout(self.ack_timeout):
                    frame = json.loads(await transport.receive())
                if frame['type'] == 'welcome':
                    self.welcome = frame['data']
                    return
                if frame['type'] == 'error' and frame['data'].get('code') == protocol.Reason.AUTH_FAILED:
                    raise AuthRefused(frame['data'].get('message', ''))
        except TransportClosed as closed:
            if closed.code == protocol.CloseCode.AUTH_FAILED:
                raise AuthRefused(closed.reason) from None
            raise

    async def _heartbeat(self, transport: Transport) -> None:
        interval = float(self.welcome.get('heartbeat_interval', 10.0))
        with contextlib.suppress(TransportClosed):
            while True:
                await asyncio.sleep(interval)
                if self.heartbeats:
                    await transport.send(protocol.encode('heartbeat'))

    async def _read(self, transport: Transport) -> None:
        while True:
            frame = json.loads(await transport.receive())
            kind, data = frame['type'], frame.get('data') or {}
            if kind in {'ack', 'error'}:
                future = self._waiting.get(str(data.get('of')))
                if future is not None and not future.done():
                    future.set_result(frame)
            elif kind in COMMANDS and self.on_command is not None:
                self._spawn(self.on_command(self, kind, frame['id'], data))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- frames out ----------------------------------------------------------------------------

    async def send(
        self, type_: str, data: dict[str, Any] | None = None, *, id_: str | None = None, tries: int = 5
    ) -> dict[str, Any]:
        """Send and wait for the hub's ack, resending with the same id after a timeout or a reconnect.

        Returns the ack's data (`duplicate` tells whether the hub had already seen it); an error
        frame raises Refused; no ack after `tries` attempts raises TimeoutError.
        """
        id_ = id_ or protocol.new_id()
        for _ in range(tries):
            try:
                async with asyncio.timeout(self.ack_timeout):
                    await self.connected.wait()
            except TimeoutError:
                continue
            transport = self._transport
            if transport is None:
                continue
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self._waiting[id_] = future
            try:
                await transport.send(protocol.encode(type_, data, id_=id_))
                async with asyncio.timeout(self.ack_timeout):
                    reply = await future
            except (TimeoutError, TransportClosed):
                continue
            finally:
                self._waiting.pop(id_, None)
            if reply['type'] == 'error':
                raise Refused(reply['data'].get('code', ''), reply['data'].get('message', ''))
            return reply['data']
        raise TimeoutError(f'{type_} {id_} not acknowledged after {tries} tries')

    async def ack(self, of: str, *, ok: bool = True, error: str = '') -> None:
        """Answer a hub command (not itself acknowledged by the hub)."""
        transport = self._transport
        if transport is not None:
            with contextlib.suppress(TransportClosed):
                await transport.send(protocol.encode('ack', {'of': of, 'ok': ok, 'error': error}))
