"""The process's one twin and its feed, built by the composition root at start-up and handed to the pages."""

from __future__ import annotations

from dataclasses import dataclass

from app.bus import Bus
from app.services.queue import QueueService
from twin.feed import HallFeed
from twin.hall import HallTwin
from twin.layout import load_layout


@dataclass(frozen=True)
class LiveHall:
    """The twin, fed from the bus, and the feed that pages subscribe to."""

    twin: HallTwin
    feed: HallFeed
    bus: Bus

    async def stop(self) -> None:
        await self.feed.stop()
        self.twin.detach(self.bus)


async def build(queue: QueueService) -> HallTwin:
    """Read the hall once from the database (queues through the queue service, the plan directly) and build the
    twin on the queue service's live state: one per process. A queue service without one (a test) gives the twin
    a state of its own."""
    layout = await load_layout(queue.db, queue.hall_id)
    return HallTwin(await queue.overview(), queue.live or await queue.load_live(), layout)


async def start(queue: QueueService, bus: Bus) -> LiveHall:
    """Build the twin, feed it from the bus and start its feed."""
    twin = await build(queue)
    twin.attach(bus)
    hall_feed = HallFeed(twin, db=queue.db, hall_id=queue.hall_id, tz=queue.settings.tz, clock=queue.clock)
    await hall_feed.start()
    return LiveHall(twin, hall_feed, bus)
