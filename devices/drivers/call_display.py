"""Call display: shows a call and speaks "请 A012 号到 5 号窗口办理", one announcement at a time.

Each display has its own queue and one worker: an announcement is sent, acked, and the next waits
until the display reports `announced` for it (or `announce_timeout` passes), so two calls never
talk over each other. A recall is queued again like a new call. An offline display drops calls
(it shows the current state again when it is back, and nobody is there to hear the backlog).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from app import tasks
from app.models.device import DeviceKind
from app.services.call_board import Call
from devices import protocol
from devices.driver import DeviceInfo, DeviceUnavailable, Driver, DriverContext
from devices.transport import TransportClosed

log = logging.getLogger(__name__)

QUEUE_LIMIT = 20


class CallDisplayDriver(Driver):
    kind = DeviceKind.CALL_DISPLAY

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        super().__init__(info, ctx)
        self._calls: asyncio.Queue[Call] = asyncio.Queue(QUEUE_LIMIT)
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._worker = asyncio.get_running_loop().create_task(self._announce_all(), name=f'announce-{self.code}')

    async def stop(self) -> None:
        await tasks.stop(self._worker)
        await super().stop()

    def enqueue(self, call: Call) -> None:
        """Queue a call; when the queue is full the oldest waiting call gives way."""
        if not self.connected:
            return
        if self._calls.full():
            self._calls.get_nowait()
        self._calls.put_nowait(call)

    async def _announce_all(self) -> None:
        while True:
            call = await self._calls.get()
            try:
                await self.announce(call)
            except DeviceUnavailable as error:
                log.debug('display %s skipped %s: %s', self.code, call.number, error.code)

    async def announce(self, call: Call) -> None:
        """Send one announcement and wait until it has been spoken (or the announce timeout passed)."""
        command_id = protocol.new_id()
        spoken = self.expect('announced', command_id)
        started = self.ctx.clock()
        data = {
            'number': call.number,
            'window': call.window_number,
            'text': call.announcement,
            'text_en': call.announcement_en,
            'recall': call.recall,
        }
        try:
            await self.command('announce', data, command_id=command_id)
            with contextlib.suppress(TimeoutError, TransportClosed):
                async with asyncio.timeout(self.ctx.tuning.announce_timeout):
                    await spoken
        finally:
            self.forget('announced', command_id)
        self.count_use('announced', busy=self.ctx.clock() - started)

    async def on_announced(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Announced)
        self.fulfil('announced', data.of)

    def on_disconnect(self) -> None:
        while not self._calls.empty():
            self._calls.get_nowait()
