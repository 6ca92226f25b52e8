"""Garbage collection for a server that pushes to hundreds of open pages.

With Python's default thresholds every message buffer a page keeps for a few seconds (NiceGUI holds
recent messages for reconnects) is promoted to the oldest generation, and full collections over a
heap with hundreds of open pages then stall the event loop for 0.5-2 s, several times a minute
(bench/twin_clients.py: p99 920 ms at 200 managers). Larger young generations let those buffers die
young, so full collections become rare.

So the collector never starts a full collection by itself (threshold2 is out of reach); this module
decides when: a page that was closed is a web of reference cycles (elements, slots, parents) that only a
full collection frees, so after every `after` departed pages (at most every `min_interval` seconds)
one collection frees them together, and `tick` (called every minute) runs one if none ran for
`full_every` seconds, for the other cyclic garbage. Bounded garbage; while nobody comes or goes, one
pause every ten minutes instead of several a minute.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

THRESHOLDS = (50_000, 20, 1_000_000)
COLLECT_AFTER_PAGES = 20
MIN_INTERVAL = 5.0
FULL_EVERY = 600.0
TICK_SECONDS = 60.0


class PageCollector:
    def __init__(
        self,
        *,
        after: int = COLLECT_AFTER_PAGES,
        min_interval: float = MIN_INTERVAL,
        full_every: float = FULL_EVERY,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self.after = after
        self.min_interval = min_interval
        self.full_every = full_every
        self.clock = clock
        self.collect = collect
        self.pending = 0
        self.collections = 0
        self._last = clock()

    def page_left(self) -> bool:
        """One page is gone; True if this departure triggered a full collection."""
        self.pending += 1
        if self.pending < self.after or self.clock() - self._last < self.min_interval:
            return False
        self._collect()
        return True

    def tick(self) -> bool:
        """The periodic check; True if it ran the overdue full collection."""
        if self.clock() - self._last < self.full_every:
            return False
        self._collect()
        return True

    def _collect(self) -> None:
        self.collect()
        self.pending, self._last = 0, self.clock()
        self.collections += 1


def install() -> PageCollector:
    """Set the process's thresholds; the caller hooks `page_left` to page deletion and `tick` to a timer."""
    gc.set_threshold(*THRESHOLDS)
    return PageCollector()
