"""Another hall's twin as the database has it now: what a city manager's drill-down starts from.

It is built with this process's dependencies and the other hall's id, and attached to no bus here: the live
drill-down (twin/hall_watch.py) feeds it from that hall's own stream.
"""

from __future__ import annotations

from dataclasses import replace

from app.services.deps import Deps
from app.services.hall_rules import RulesHolder
from app.services.live_queue import LiveQueue
from app.services.queue import QueueService
from twin.hall import HallTwin
from twin.layout import load_layout


def _queue(deps: Deps, hall_id: int) -> QueueService:
    return QueueService(replace(deps, hall_id=hall_id, bus=None, rules=RulesHolder()))  # its rules: the defaults


async def hall_snapshot(deps: Deps, hall_id: int) -> HallTwin:
    """The hall `hall_id`'s plan, windows, queues and devices now (this process's `deps`, another hall's id)."""
    queue = _queue(deps, hall_id)
    layout = await load_layout(queue.db, hall_id)
    return HallTwin(await queue.overview(), await queue.load_live(), layout)


async def hall_live(deps: Deps, hall_id: int) -> LiveQueue:
    """The hall `hall_id`'s live queues as the database has them now (a replica's resync)."""
    return await _queue(deps, hall_id).load_live()
