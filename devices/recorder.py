"""Persist device history (DeviceEvent rows) and device state in batches, off the hub's path.

A frame's handler only appends to memory; one task writes every `interval` with one executemany.
So 500 devices never queue for SQLite's write lock, and a failed write is retried on the next
flush (logged once per outage, like availability) instead of losing the rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import insert, update

from app import tasks
from app.db import Database
from app.models.device import Device, DeviceState
from app.models.operations import DeviceEvent
from app.services.uow import unit_of_work

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 50_000


class DeviceRecorder:
    def __init__(self, db: Database, *, interval: float = 0.5) -> None:
        self.db = db
        self.interval = interval
        self._rows: list[dict[str, Any]] = []
        self._states: dict[int, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._lock = asyncio.Lock()

    def record(self, *, hall_id: int, device_id: int, kind: str, at: dt.datetime, detail: dict[str, Any]) -> None:
        if len(self._rows) >= MAX_PENDING_ROWS:
            self._rows.pop(0)
        self._rows.append({'hall_id': hall_id, 'device_id': device_id, 'kind': kind, 'at': at, 'detail': detail})

    def set_state(self, device_id: int, state: DeviceState, last_seen: dt.datetime | None) -> None:
        self._states[device_id] = {'id': device_id, 'state': state, 'last_seen_at': last_seen}

    async def mark_all_offline(self, hall_id: int) -> None:
        """At start-up nothing is connected yet, whatever the last process wrote."""
        async with unit_of_work(self.db) as uow:
            s = uow.session
            await s.execute(update(Device).where(Device.hall_id == hall_id).values(state=DeviceState.OFFLINE))

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name='device-recorder')

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        """Write what is pending; on failure keep it for the next flush."""
        async with self._lock:
            rows, states = self._rows, self._states
            if not rows and not states:
                return
            self._rows, self._states = [], {}
            try:
                async with unit_of_work(self.db) as uow:
                    s = uow.session
                    if rows:
                        await s.execute(insert(DeviceEvent.__table__), rows)  # Core executemany: no ORM per row
                    if states:
                        await s.execute(update(Device), list(states.values()))  # bulk UPDATE by primary key
            except Exception:
                self._rows = (rows + self._rows)[-MAX_PENDING_ROWS:]
                self._states = {**states, **self._states}
                if not self._failing:
                    log.exception('device history could not be written; retrying every %.1f s', self.interval)
                self._failing = True
                return
            if self._failing:
                log.info('device history is being written again')
            self._failing = False
