"""The websocket hub at /ws/devices: authenticate a device, then validate, deduplicate and dispatch its frames.

Each connection runs in its own task (Starlette gives every websocket one), handles its frames in
order and answers each with an `ack` or an `error`; image work runs in a worker pool and history
is written in batches, so a slow or hostile device only ever delays itself. Bad frames are
refused and counted in `HubStats`; only a bad hello, a wrong credential or a flood of bad frames
closes the connection (codes in devices.protocol.CloseCode and docs/device-protocol.md).

What sockets that have not authenticated may cost is bounded: the server's websocket refuses a frame
above protocol.MAX_MESSAGE_BYTES before the hub reads it (1009, ws_max_size in app/main.py), a socket
has `hello_timeout` seconds to say hello, and at most `max_pending` sockets may be waiting to do so;
beyond that a new one is closed at once with 1013 (try again later) and only counted. A flood of
silent sockets thus holds at most `max_pending` places for `hello_timeout` each, while real devices
get in on one of their next retries.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from starlette.websockets import WebSocket

from devices import protocol
from devices.driver import Driver
from devices.protocol import CloseCode, FrameRejected, Reason
from devices.service import DeviceService
from devices.transport import StarletteTransport, Transport, TransportClosed

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 2.0
MAX_PENDING = 64  # sockets accepted but not yet authenticated (setting DEVICE_MAX_PENDING)
MAX_REJECTED_PER_CONNECTION = 50
MAX_REMEMBERED_REFUSALS = 1000
DISCONNECTED = 'disconnected'
SERVER_STOPPING = 'server stopping'


@dataclass
class HubStats:
    """Counters for the twin and the manager: connections, frames, duplicates, refusals by reason."""

    connected: int = 0
    pending: int = 0  # sockets waiting for their hello right now
    connections: int = 0
    frames: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def reject(self, reason: Reason) -> None:
        self.rejected[reason.value] += 1

    def snapshot(self) -> dict[str, Any]:
        return {
            'connected': self.connected,
            'pending': self.pending,
            'connections': self.connections,
            'frames': self.frames,
            'duplicates': self.duplicates,
            'rejected': dict(self.rejected),
        }


class DeviceHub:
    def __init__(
        self,
        *,
        hello_timeout: float = HELLO_TIMEOUT,
        max_rejected: int = MAX_REJECTED_PER_CONNECTION,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.hello_timeout = hello_timeout
        self.max_rejected = max_rejected
        self.max_pending = max_pending
        self.service: DeviceService | None = None
        self.stats = HubStats()
        self._refused_codes: set[str] = set()

    def bind(self, service: DeviceService | None) -> None:
        """Serve this service's devices (None while starting or stopping: devices are told to retry)."""
        self.service = service

    def mount(self, app: FastAPI) -> None:
        app.add_api_websocket_route(protocol.PATH, self.endpoint)

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        await self.serve(StarletteTransport(websocket))

    async def serve(self, transport: Transport) -> None:
        """One device connection, from hello to close."""
        service = self.service
        if service is None:
            self.stats.reject(Reason.NOT_READY)
            await transport.close(CloseCode.TRY_AGAIN_LATER, 'hub is starting, retry')
            return
        if self.stats.pending >= self.max_pending:
            self.stats.reject(Reason.TOO_MANY_PENDING)
            await transport.close(CloseCode.TRY_AGAIN_LATER, 'too many connections waiting for hello, retry')
            return
        self.stats.pending += 1
        try:
            driver = await self._authenticate(transport, service)
        finally:
            self.stats.pending -= 1
        if driver is None:
            return
        self.stats.connected += 1
        self.stats.connections += 1
        reason = DISCONNECTED
        try:
            await driver.attach(transport)
            reason = await self._frames(transport, driver)
        except TransportClosed:
            pass
        finally:
            self.stats.connected -= 1
            await driver.detach(transport, reason, server_stopping=reason == SERVER_STOPPING)

    async def _authenticate(self, transport: Transport, service: DeviceService) -> Driver | None:
        try:
            async with asyncio.timeout(self.hello_timeout):
                raw = await transport.receive()
        except TimeoutError:
            self.stats.reject(Reason.HELLO_TIMEOUT)
            await transport.close(CloseCode.TIMEOUT, 'no hello')
            return None
        except TransportClosed:
            return None
        try:
            hello = protocol.decode_hello(raw)
        except FrameRejected as rejected:
            self.stats.reject(rejected.reason)
            code = CloseCode.AUTH_FAILED if rejected.reason == Reason.UNAUTHENTICATED else CloseCode.BAD_HELLO
            await self._refuse(transport, rejected, code)
            return None
        data = hello.data
        assert isinstance(data, protocol.Hello)
        driver = service.authenticate(data.device, data.credential)
        if driver is None:
            self.stats.reject(Reason.AUTH_FAILED)
            self._log_refusal(data.device, transport.peer)
            refused = FrameRejected(Reason.AUTH_FAILED, 'unknown device or wrong credential', of=hello.id)
            await self._refuse(transport, refused, CloseCode.AUTH_FAILED)
            return None
        await transport.send(protocol.encode('welcome', self._welcome(driver, hello.id)))
        return driver

    def _welcome(self, driver: Driver, hello_id: str) -> dict[str, Any]:
        tuning = driver.ctx.tuning
        return {
            'of': hello_id,
            'device_id': driver.info.id,
            'code': driver.code,
            'kind': driver.info.kind.value,
            'heartbeat_interval': tuning.heartbeat_interval,
            'missed_heartbeats': tuning.missed_heartbeats,
            'max_frame_bytes': protocol.size_limit(driver.info.kind),
        }

    async def _frames(self, transport: Transport, driver: Driver) -> str:
        """Handle frames until the connection ends; returns why it ended."""
        rejected = 0
        while True:
            try:
                raw = await transport.receive()
            except TransportClosed as closed:
                return SERVER_STOPPING if closed.code == CloseCode.SERVER_RESTART else DISCONNECTED
            try:
                frame = protocol.decode(raw, driver.info.kind)
            except FrameRejected as error:
                driver.seen()
                self.stats.reject(error.reason)
                rejected += 1
                if rejected > self.max_rejected:
                    self.stats.reject(Reason.TOO_MANY_ERRORS)
                    await self._refuse(transport, error, CloseCode.POLICY)
                    return 'too many rejected frames'
                await transport.send(self._error_frame(error))
                continue
            await self._handle(transport, driver, frame)

    async def _handle(self, transport: Transport, driver: Driver, frame: protocol.Frame) -> None:
        try:
            fresh = await driver.receive(frame)
        except (TransportClosed, asyncio.CancelledError):
            raise
        except Exception:
            log.exception('device %s: handling %s failed', driver.code, frame.type)
            self.stats.reject(Reason.HANDLER_FAILED)
            failed = FrameRejected(Reason.HANDLER_FAILED, 'the hub could not handle this frame; retry', of=frame.id)
            await transport.send(self._error_frame(failed))
            return
        self.stats.frames += 1
        if not fresh:
            self.stats.duplicates += 1
        if frame.type != 'ack':
            await transport.send(protocol.encode('ack', {'of': frame.id, 'duplicate': not fresh}))

    @staticmethod
    def _error_frame(error: FrameRejected) -> str:
        return protocol.encode('error', {'of': error.of, 'code': error.reason.value, 'message': error.message})

    async def _refuse(self, transport: Transport, error: FrameRejected, code: CloseCode) -> None:
        try:
            await transport.send(self._error_frame(error))
        except TransportClosed:
            return
        await transport.close(code, error.reason.value)

    def _log_refusal(self, device_code: str, peer: str) -> None:
        """Warn once per claimed device code (a misconfigured device retries forever; an attacker floods)."""
        if device_code in self._refused_codes or len(self._refused_codes) >= MAX_REMEMBERED_REFUSALS:
            return
        self._refused_codes.add(device_code)
        log.warning('refused device %r from %s: unknown device or wrong credential', device_code[:32], peer)
