"""Kiosk: citizen sessions (busy time for the usage rate) and the 呼叫人工 help button."""

from __future__ import annotations

import datetime as dt

from app.events import HelpRequested
from app.models.device import DeviceKind
from devices import protocol
from devices.driver import DeviceInfo, Driver, DriverContext

MAX_SESSION = dt.timedelta(minutes=15)  # a session never ended (citizen walked off) counts at most this


class KioskDriver(Driver):
    kind = DeviceKind.KIOSK

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        super().__init__(info, ctx)
        self.session_id = ''
        self._session_start: dt.datetime | None = None

    async def on_session_start(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.SessionStart)
        self._close_session('replaced')
        self.session_id, self._session_start = data.session_id, self.ctx.clock()
        self.health.uses['session'] += 1
        self.health.usage.begin(self._session_start)
        self.record('session_start', {'session_id': data.session_id})

    async def on_session_end(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.SessionEnd)
        if data.session_id == self.session_id:
            self._close_session(data.outcome)

    async def on_help(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Help)
        self.health.uses['help'] += 1
        self.record('help', {'session_id': data.session_id or self.session_id})
        await self.publish(HelpRequested(hall_id=self.info.hall_id, device=self.info.payload, note=data.note))

    def _close_session(self, outcome: str) -> None:
        start = self._session_start
        if start is None:
            return
        end = min(self.ctx.clock(), start + MAX_SESSION)
        self.health.usage.end(end)
        self.record(
            'session_end',
            {'session_id': self.session_id, 'outcome': outcome, 'seconds': round((end - start).total_seconds())},
        )
        self.session_id, self._session_start = '', None

    def on_disconnect(self) -> None:
        self._close_session('disconnected')
