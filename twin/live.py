"""The process's one twin and its feed, built and installed by the composition root at start-up."""

from __future__ import annotations

from app.bus import Bus
from app.services.queue import QueueService
from twin.feed import HallFeed
from twin.hall import HallTwin
from twin.layout import load_layout

_twin: HallTwin | None = None
_feed: HallFeed | None = None


def install(twin: HallTwin | None, feed: HallFeed | None = None) -> None:
    global _twin, _feed
    _twin, _feed = twin, feed


def current() -> HallTwin:
    if _twin is None:
        raise RuntimeError('the hall twin is not built yet')
    return _twin


def feed() -> HallFeed:
    if _feed is None:
        raise RuntimeError('the hall feed is not started yet')
    return _feed


async def build(queue: QueueService) -> HallTwin:
    """Read the hall once from the database (queues through the queue service, the plan directly) and build the
    twin on the queue service's live state: one per process. A queue service without one (a test) gives the twin
    a state of its own."""
    layout = await load_layout(queue.db, queue.hall_id)
    return HallTwin(await queue.overview(), queue.live or await queue.load_live(), layout)


async def start(queue: QueueService, bus: Bus) -> HallTwin:
    """Build the twin, feed it from the bus, start its feed, and install both for the pages."""
    twin = await build(queue)
    twin.attach(bus)
    hall_feed = HallFeed(twin, db=queue.db, hall_id=queue.hall_id, tz=queue.settings.tz, clock=queue.clock)
    await hall_feed.start()
    install(twin, hall_feed)
    return twin


async def stop(bus: Bus) -> None:
    if _feed is not None:
        await _feed.stop()
    if _twin is not None:
        _twin.detach(bus)
    install(None)
