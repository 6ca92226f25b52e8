"""The process's one twin instance, installed by the composition root at start-up."""

from __future__ import annotations

from app.services.queue import QueueService
from twin.hall import HallTwin

_twin: HallTwin | None = None


def install(twin: HallTwin | None) -> None:
    global _twin
    _twin = twin


def current() -> HallTwin:
    if _twin is None:
        raise RuntimeError('the hall twin is not built yet')
    return _twin


async def build(queue: QueueService) -> HallTwin:
    """Read the hall once from the database (through the queue service) and build the twin."""
    return HallTwin(await queue.overview(), await queue.load_live())
