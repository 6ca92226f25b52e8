"""The floor map's detail panel history: a window's ticket steps and its own changes, newest first."""

from __future__ import annotations

from app.db import Database
from app.models import TicketCreate, WindowState
from app.services.history import window_history
from app.services.queue import QueueService
from tests.callers import DESK, as_staff
from tests.conftest import FakeClock
from tests.factories import SmallHall


async def test_a_windows_history_has_its_tickets_and_its_own_changes(
    db: Database, queue: QueueService, hall: SmallHall, clock: FakeClock
) -> None:
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    steps = (
        lambda: queue.call_next(hall.window_1, caller=DESK),
        lambda: queue.complete(hall.window_1, caller=DESK),
        lambda: queue.set_window_state(hall.window_1, WindowState.PAUSED, caller=DESK),
        lambda: queue.set_window_services(hall.window_1, {hall.service_b: 1}, caller=as_staff('boss')),
    )
    for step in steps:
        clock.advance(1)
        await step()
    lines = await window_history(db, hall.window_1)
    assert [(line.kind, line.text, line.detail) for line in lines] == [
        ('window_services', '事项乙', {}),
        ('window_state', '', {'state': 'paused'}),
        ('completed', 'A001', {}),
        ('called', 'A001', {}),
    ]
    assert len(await window_history(db, hall.window_1, limit=2)) == 2
