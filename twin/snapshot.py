"""Another hall's twin as the database has it now: what a city manager's drill-down draws.

It is built once per request and never attached to a bus (each hall's events travel on its own stream),
so it is a read-only picture, not a live replica.
"""

from __future__ import annotations

from dataclasses import replace

from app.services.deps import Deps
from app.services.hall_rules import RulesHolder
from app.services.queue import QueueService
from twin.hall import HallTwin
from twin.layout import load_layout


async def hall_snapshot(deps: Deps, hall_id: int) -> HallTwin:
    """The hall `hall_id`'s plan, windows, queues and devices now (this process's `deps`, another hall's id)."""
    queue = QueueService(replace(deps, hall_id=hall_id, bus=None, rules=RulesHolder()))  # its rules: the defaults
    layout = await load_layout(queue.db, hall_id)
    return HallTwin(await queue.overview(), await queue.load_live(), layout)
