"""The one task per process that recomputes the hall-wide look-ahead, coalesced, off the request path.

Every queue event moves every estimate a little (the windows are shared), but playing every queue forward
costs more the more people wait. So a take, call or complete only marks the look-ahead stale; this task
recomputes it at most `per_second` times a second, however many events came meanwhile, and the live state
tells its listeners (the twin redraws every queue's estimate once). A recompute that costs more than its share
(`BUDGET` of the process's time, e.g. hours-long queues on a slow machine) spaces the next ones further
apart. Between two runs an estimate reads the last look-ahead shifted by the tickets that left its queue
(app/services/live_queue.py).
"""

from __future__ import annotations

import asyncio
import logging
import time

from app import tasks
from app.events import Event
from app.services.live_queue import LiveQueue

log = logging.getLogger(__name__)

REFRESHES_PER_SECOND = 4.0
BUDGET = 0.1  # at most this share of the event loop's time goes to recomputes


class EtaRefresher:
    def __init__(self, live: LiveQueue, *, per_second: float = REFRESHES_PER_SECOND) -> None:
        self.live = live
        self.interval = 1 / per_second
        self.runs = 0  # look-ahead recomputes made (tests and benchmarks read it)
        self._wanted = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Take over the recompute from the readers of the live state, and run."""
        self.live.coalesce = True
        self.live.follow(self._changed)
        self._task = asyncio.get_running_loop().create_task(self._run(), name='eta.refresh')

    async def stop(self) -> None:
        self.live.unfollow(self._changed)
        await tasks.stop(self._task)
        self._task = None
        self.live.coalesce = False

    def _changed(self, _: Event) -> None:
        self._wanted.set()

    async def _run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            started = time.perf_counter()
            try:
                if self.live.refresh():
                    self.runs += 1
            except Exception:  # a bad recompute must not stop the next ones
                log.exception('look-ahead recompute failed')
            await asyncio.sleep(pause_after(time.perf_counter() - started, self.interval))


def pause_after(took: float, interval: float) -> float:
    """Seconds to wait before the next recompute: the interval, or longer when the last one took more than BUDGET
    of the time from its start to the next."""
    return max(interval, took * (1 - BUDGET) / BUDGET)
