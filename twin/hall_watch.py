"""A city manager's drill-down, live: another hall's twin kept current from that hall's own event stream.

Each hall's processes publish on their own Redis stream (app/bus_redis.py `hall_stream`), so this process reads
the watched hall's stream with a reader of its own (the same bus key: the city's processes share SECRET_KEY) and
feeds a replica twin, built from the shared database first. One watch per hall serves every drill-down page on it
in this process: it starts with the first page and stops with the last. Redraws are coalesced (`COALESCE`), so a
busy hall costs at most five redraws a second however many events arrive. A configuration change saved in the
watched hall (`HallConfigChanged` on its stream: a window added or removed, a service renamed) rebuilds the replica
from the database, so the open pages draw the new plan without being reopened.

The process's own hall needs no replica: its twin is live already. Without Redis a process hears no other hall,
so the watch re-reads that hall from the database every `CITY_EVERY` seconds instead (what /city itself does).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from nicegui import Event as UiEvent

from app import tasks
from app.bus_redis import RedisBus, hall_stream
from app.events import Event, HallConfigChanged
from app.services.deps import Deps
from twin.city import CITY_EVERY
from twin.hall import HallTwin
from twin.snapshot import hall_live, hall_snapshot

log = logging.getLogger(__name__)

COALESCE = 0.2  # seconds: at most five redraws a second


@dataclass(eq=False)
class HallWatch:
    """One hall's live twin for drill-down pages; `redraw` fires (coalesced) when what they draw changed."""

    hall_id: int
    twin: HallTwin
    redraw: UiEvent[None] = field(default_factory=UiEvent)
    watchers: int = 0
    stops: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _pending: asyncio.Task[None] | None = None

    def changed(self, _: object) -> None:
        """The twin signalled changed keys: what the pages draw moved."""
        self.touched()

    def touched(self) -> None:
        """Something changed: redraw once after `COALESCE` seconds, however many changes come meanwhile."""
        if self._pending is None or self._pending.done():
            self._pending = asyncio.get_running_loop().create_task(self._flush(), name='hall-watch-redraw')

    async def _flush(self) -> None:
        await asyncio.sleep(COALESCE)
        self.redraw.emit()

    async def stop(self) -> None:
        await tasks.stop(self._pending)
        while self.stops:
            await self.stops.pop()()


class HallWatches:
    """The live drill-downs of this process, one per hall, shared by every page on it."""

    def __init__(self, deps: Deps, *, own: HallTwin, redis_url: str, bus_key: bytes, every: float = CITY_EVERY) -> None:
        self.deps = deps
        self.own = own
        self.redis_url = redis_url
        self.bus_key = bus_key
        self.every = every
        self._watches: dict[int, HallWatch] = {}
        self._opening = asyncio.Lock()

    async def acquire(self, hall_id: int, code: str) -> HallWatch:
        """The live watch of hall `hall_id` (`code`), started if no page watched it yet; `release` it when done."""
        async with self._opening:
            watch = self._watches.get(hall_id)
            if watch is None:
                watch = self._watches[hall_id] = await self._start(hall_id, code)
            watch.watchers += 1
            return watch

    async def release(self, watch: HallWatch) -> None:
        async with self._opening:
            watch.watchers -= 1
            if watch.watchers <= 0 and self._watches.get(watch.hall_id) is watch:
                del self._watches[watch.hall_id]
                await watch.stop()

    async def stop(self) -> None:
        for watch in list(self._watches.values()):
            await watch.stop()
        self._watches.clear()

    async def _start(self, hall_id: int, code: str) -> HallWatch:
        if hall_id == self.deps.hall_id:
            return self._follow(HallWatch(hall_id, self.own))
        if not self.redis_url:
            watch = HallWatch(hall_id, await hall_snapshot(self.deps, hall_id))
            task = asyncio.get_running_loop().create_task(self._reread(watch), name='hall-watch-reread')
            watch.stops.append(lambda: tasks.stop(task))
            return watch
        bus = RedisBus(self.redis_url, key=self.bus_key, stream=hall_stream(code))
        twin = await hall_snapshot(self.deps, hall_id)
        twin.attach(bus)
        await bus.start()  # reads on from the stream's end: what came between the snapshot and now is re-read below
        twin.live.resync(await hall_live(self.deps, hall_id))
        watch = self._follow(HallWatch(hall_id, twin))

        async def reconfigured(event: Event) -> None:
            if isinstance(event, HallConfigChanged) and event.hall_id == hall_id:
                await self._rebuild(watch, bus)

        config = bus.subscribe(reconfigured, HallConfigChanged, name='hall-watch-config')

        async def close() -> None:
            bus.unsubscribe(config)
            watch.twin.detach(bus)
            await bus.stop()

        watch.stops.append(close)
        return watch

    async def _rebuild(self, watch: HallWatch, bus: RedisBus) -> None:
        """The watched hall saved a configuration change: draw from a replica built afresh from the database, so
        windows and services removed there go too (the replica's own reconfigure only adds and renames)."""
        try:
            fresh = await hall_snapshot(self.deps, watch.hall_id)
        except Exception:  # the old replica stays and keeps following the stream; the next change tries again
            log.exception('hall %s could not be re-read after its configuration changed', watch.hall_id)
            return
        old = watch.twin
        old.detach(bus)
        old.live.detach(bus)
        fresh.attach(bus)
        old.updated.unsubscribe(watch.changed)
        watch.twin = fresh
        fresh.updated.subscribe(watch.changed, unsubscribe_on_delete=False)
        try:
            fresh.live.resync(await hall_live(self.deps, watch.hall_id))  # what came while the replica was read
        except Exception:  # the queues miss at most that much until the next change or resync
            log.exception('hall %s: the rebuilt replica could not re-read its queues', watch.hall_id)
        watch.touched()

    @staticmethod
    def _follow(watch: HallWatch) -> HallWatch:
        watch.twin.updated.subscribe(watch.changed, unsubscribe_on_delete=False)

        async def unfollow() -> None:
            watch.twin.updated.unsubscribe(watch.changed)

        watch.stops.append(unfollow)
        return watch

    async def _reread(self, watch: HallWatch) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                watch.twin = await hall_snapshot(self.deps, watch.hall_id)
            except Exception:  # a failed reading is logged; the next one tries again
                log.exception('hall %s could not be re-read for its drill-down', watch.hall_id)
                continue
            watch.redraw.emit()
