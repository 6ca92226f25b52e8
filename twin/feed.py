"""One feed per process between the twin and the pages: coalesced changes, time ticks, KPIs and chart series.

The twin may change a hundred times a second at peak; a floor map needs at most about five redraws
a second. The feed gathers the changed keys and flushes them on a scheduled callback: the first
change after a quiet spell goes out at once, later ones are batched until `min_interval` has passed
since the previous flush. No timer runs while nothing changes.

Besides, one loop (the process's only periodic task for the manager's view) marks what changes with
time alone (seat wait colours, serving times, windows entering or leaving their own opening hours),
recounts once a minute the bookings of the hour ahead (a slot moves into it or out of it with no event),
refreshes today's KPIs a few seconds after ticket activity (and every half minute for waits that only
grow) and the chart series every minute. All figures are computed once here and shared by every
connected manager.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from nicegui import Event as UiEvent

from app import tasks
from app.clock import utcnow
from app.db import Database
from app.models.device import DeviceState
from app.models.hall import WindowState
from app.services import day_series, kpi
from app.services.day_series import DaySeries
from twin.hall import HallTwin
from twin.model import DEVICE, QUEUE, WINDOW, Key, KpiTwin
from twin.reducers import assign

log = logging.getLogger(__name__)

MIN_INTERVAL = 0.2  # at most 5 flushes a second
TICK_SECONDS = 1.0
TIME_KEYS_EVERY = 30.0
BOOKED_EVERY = 60.0
KPI_AFTER_ACTIVITY = 3.0
KPI_EVERY = 30.0
SERIES_EVERY = 60.0


class HallFeed:
    def __init__(
        self,
        twin: HallTwin,
        *,
        db: Database | None = None,
        hall_id: int = 0,
        tz: ZoneInfo | None = None,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.twin = twin
        self.db = db
        self.hall_id = hall_id
        self.tz = tz or ZoneInfo('Asia/Shanghai')
        self.min_interval = min_interval
        self.clock = clock
        self.kpi = KpiTwin()
        self.series: DaySeries | None = None
        self.flushed: UiEvent[frozenset[Key]] = UiEvent()
        self.series_changed: UiEvent[DaySeries] = UiEvent()
        self.flushes = 0
        self._pending: set[Key] = set()
        self._handle: asyncio.Handle | None = None
        self._last_flush = -float('inf')
        self._activity = False
        self._series_dirty = True
        self._task: asyncio.Task[None] | None = None
        twin.updated.subscribe(self._on_update, unsubscribe_on_delete=False)
        twin.refresh_hours(clock(), self.tz)
        self.sync_live_figures()

    # ---- coalescing ----------------------------------------------------------------------------

    def _on_update(self, keys: frozenset[Key]) -> None:
        self._pending |= keys
        kinds = {kind for kind, _ in keys}
        if QUEUE in kinds or WINDOW in kinds:
            self._activity = self._series_dirty = True
        if WINDOW in kinds:
            self._pending |= self.twin.refresh_hours(self.clock(), self.tz)  # a window given other hours
        self.sync_live_figures(kinds)
        self._schedule()

    def mark(self, keys: set[Key]) -> None:
        """Ask for a redraw of these objects (time has changed how they look)."""
        if keys:
            self._pending |= keys
            self._schedule()

    def _schedule(self) -> None:
        if self._handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_flush + self.min_interval - time.monotonic()
        self._handle = loop.call_later(delay, self.flush) if delay > 0 else loop.call_soon(self.flush)

    def flush(self) -> None:
        self._handle = None
        if not self._pending:
            return
        keys, self._pending = frozenset(self._pending), set()
        self._last_flush = time.monotonic()
        self.flushes += 1
        self.flushed.emit(keys)

    # ---- figures -------------------------------------------------------------------------------

    def sync_live_figures(self, kinds: set[str] | None = None) -> None:
        """The figures the twin knows first-hand (open windows, online devices, waiting now): no query needed.
        `kinds`: only the figures of these kinds of twin object changed (a take moves a queue, not the 125 devices)."""
        twin = self.twin
        figures: dict[str, int] = {}
        if kinds is None or WINDOW in kinds:
            figures['windows_open'] = sum(1 for w in twin.windows.values() if w.state == WindowState.OPEN)
            figures['windows_total'] = len(twin.windows)
        if kinds is None or DEVICE in kinds:
            figures['devices_online'] = sum(1 for d in twin.devices.values() if d.state == DeviceState.ONLINE)
            figures['devices_total'] = len(twin.devices)
        if kinds is None or QUEUE in kinds:
            figures['waiting_now'] = sum(q.waiting for q in twin.queues.values())
        if figures:
            assign(self.kpi, **figures)

    async def refresh_kpis(self) -> None:
        if self.db is None:
            return
        figures = await kpi.today(self.db, self.hall_id, now=self.clock(), tz=self.tz)
        assign(
            self.kpi,
            avg_wait_minutes=figures.avg_wait_minutes,
            longest_wait_minutes=figures.longest_wait_minutes,
            avg_handling_minutes=figures.avg_handling_minutes,
            served_today=figures.served_today,
            satisfaction_score=figures.satisfaction_score,
            satisfied_share=figures.satisfied_share,
            ratings=figures.ratings,
            online_share=figures.online_share,
        )
        self.sync_live_figures()

    async def refresh_series(self) -> None:
        if self.db is None:
            return
        self.series = await day_series.today(self.db, self.hall_id, now=self.clock(), tz=self.tz)
        self._series_dirty = False
        self.series_changed.emit(self.series)

    # ---- the loop ------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.refresh_kpis()
        await self.refresh_series()
        self._task = asyncio.get_running_loop().create_task(self._run(), name='twin.feed')

    async def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        await tasks.stop(self._task)
        self._task = None
        self.twin.updated.unsubscribe(self._on_update)

    async def _run(self) -> None:
        last_kpi = last_time = last_series = last_booked = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            try:
                if now - last_time >= TIME_KEYS_EVERY:
                    last_time = now
                    self.mark(self.twin.time_keys() | self.twin.refresh_hours(self.clock(), self.tz))
                if now - last_booked >= BOOKED_EVERY:
                    last_booked = now
                    self.mark(self.twin.refresh_booked())
                if (self._activity and now - last_kpi >= KPI_AFTER_ACTIVITY) or now - last_kpi >= KPI_EVERY:
                    self._activity = False
                    last_kpi = now
                    await self.refresh_kpis()
                if self._series_dirty and now - last_series >= SERIES_EVERY:
                    last_series = now
                    await self.refresh_series()
            except Exception:
                log.exception('twin feed refresh failed')
