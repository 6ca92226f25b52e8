"""The process's one twin and its feed, built by the composition root at start-up and handed to the pages."""

from __future__ import annotations

from dataclasses import dataclass

from app.bus import Bus, Subscription
from app.events import Event, HallConfigChanged
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
    config: Subscription  # HallConfigChanged: the twin re-reads the hall's plan and catalogue

    async def stop(self) -> None:
        self.bus.unsubscribe(self.config)
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

    async def reconfigure(event: Event) -> None:
        if isinstance(event, HallConfigChanged) and event.hall_id == queue.hall_id:
            await follow_config(queue, twin, event)

    config = bus.subscribe(reconfigure, HallConfigChanged, name='twin-config')
    return LiveHall(twin, hall_feed, bus, config)


async def follow_config(queue: QueueService, twin: HallTwin, event: HallConfigChanged) -> None:
    """A saved configuration change, in this process or another: the live queues take the windows and services
    as the database now has them, then the twin takes the plan (new windows and zones, new names)."""
    twin.live.resync(await queue.load_live())
    twin.reconfigure(event, await queue.overview(), await load_layout(queue.db, queue.hall_id))
