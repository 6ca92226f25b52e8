"""Time passing for an app's queue that runs on the real clock (recalls wait the recall interval in force)."""

from __future__ import annotations

import datetime as dt

from app.services.queue import QueueService


def pass_recall_interval(queue: QueueService) -> None:
    """Move the queue's clock on by the recall interval, as if the clerk had waited for the citizen that long."""
    before = queue.clock
    step = dt.timedelta(seconds=queue.rules.recall_interval_seconds)
    queue.clock = lambda: before() + step
