"""call-next's pick reads the head of each (service, class) queue off an index, whatever the queue's length."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from app.db import Database
from app.models.ticket import PriorityClass
from app.services import queue_pick
from app.services.queue import QueueService
from tests.callers import DESK
from tests.factories import SmallHall
from tests.test_queue import take

CAP = dt.timedelta(minutes=20)
NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


async def test_each_queue_head_comes_off_the_pick_index_without_a_sort(sqlite_db: Database) -> None:
    statement = queue_pick.HEADS.params(hall_id=1, window_id=7, skipped=[5])
    compiled = statement.compile(dialect=sqlite_db.engine.dialect, compile_kwargs={'literal_binds': True})
    async with sqlite_db.read_session() as s:
        plan = ' | '.join(str(row[-1]) for row in await s.execute(text(f'EXPLAIN QUERY PLAN {compiled}')))
    assert plan.count('ix_ticket_pick') == 3, plan  # one probe per class, for each service of the window
    assert 'TEMP B-TREE' not in plan, plan


def test_the_heads_are_ordered_by_the_calling_rule_with_the_window_tier_of_each_service() -> None:
    old = NOW - dt.timedelta(minutes=5)
    heads = [
        (1, 1, 11, 'normal', old - dt.timedelta(minutes=1)),  # the window's main service, the oldest normal
        (2, 2, 12, 'green', old),  # green, but of the fallback service (tier 2)
        (1, 1, 13, 'appointment', old),
    ]
    assert queue_pick.first_in_order(heads, now=NOW, cap=CAP) == 13
    overdue = (2, 2, 14, 'normal', NOW - CAP - dt.timedelta(seconds=1))
    assert queue_pick.first_in_order([*heads, overdue], now=NOW, cap=CAP) == 14
    assert queue_pick.first_in_order([], now=NOW, cap=CAP) is None


async def test_a_long_queue_is_called_in_the_same_order_as_it_was_taken(queue: QueueService, hall: SmallHall) -> None:
    taken = [(await queue.take_ticket(take(hall.service_a), caller=DESK)).ticket.number for _ in range(30)]
    green = await queue.take_ticket(take(hall.service_a, disability=True), caller=DESK)
    assert green.ticket.priority_class == PriorityClass.GREEN
    called = []
    for _ in range(len(taken) + 1):
        called.append((await queue.call_next(hall.window_1, caller=DESK)).ticket.number)
        await queue.complete(hall.window_1, caller=DESK)
    assert called == [green.ticket.number, *taken]
