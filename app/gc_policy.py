"""Garbage collection for a server that pushes to hundreds of open pages.

With Python's default thresholds every message buffer a page keeps for a few seconds (NiceGUI holds
recent messages for reconnects) is promoted to the oldest generation, and full collections over a
heap with hundreds of open pages then stall the event loop for 0.5-2 s, several times a minute
(bench/twin_clients.py: p99 920 ms at 200 managers). Larger young generations let those buffers die
young, so full collections become rare.

Rare full collections have one cost: a page that was closed is a web of reference cycles (elements,
slots, parents) that only a full collection frees, so memory would pile up under churn. The page
collector frees them in one go after every `after` departed pages, at most every `min_interval`
seconds: bounded garbage, and no pauses at all while nobody comes or goes.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

THRESHOLDS = (50_000, 20, 10)
COLLECT_AFTER_PAGES = 20
MIN_INTERVAL = 5.0


class PageCollector:
    def __init__(
        self,
        *,
        after: int = COLLECT_AFTER_PAGES,
        min_interval: float = MIN_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[], object] = gc.collect,
    ) -> None:
        self.after = after
        self.min_interval = min_interval
        self.clock = clock
        self.collect = collect
        self.pending = 0
        self.collections = 0
        self._last = -float('inf')

    def page_left(self) -> bool:
        """One page is gone; True if this departure triggered a full collection."""
        self.pending += 1
        now = self.clock()
        if self.pending < self.after or now - self._last < self.min_interval:
            return False
        self.collect()
        self.pending, self._last = 0, now
        self.collections += 1
        return True


def install() -> PageCollector:
    """Set the process's thresholds; the caller hooks `page_left` to the UI framework's page deletion."""
    gc.set_threshold(*THRESHOLDS)
    return PageCollector()
