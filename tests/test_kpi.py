"""Today's KPIs and chart series: pure rules first, then read from a real database after real queue work."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from app.db import Database
from app.models import Evaluation, TicketCreate, WindowState
from app.services import day_series, kpi
from app.services.day_series import QueueStep, busiest, queue_steps, wait_histogram
from app.services.kpi import NotYetCalled, Rating, TicketTimes, online_share, satisfaction, ticket_figures
from app.services.queue import QueueService
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.factories import SmallHall

TZ = ZoneInfo('Asia/Shanghai')
T0 = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)  # 09:00 in the hall


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def test_ticket_figures() -> None:
    tickets = [
        TicketTimes('completed', at(0), at(10), at(10), at(22)),  # waited 10, handled 12
        TicketTimes('called', at(5), at(25), at(25), None),  # waited 20
        TicketTimes('waiting', at(20), None, None, None),  # waiting 40 so far at 60
        TicketTimes('cancelled', at(1), None, None, None),
    ]
    figures = ticket_figures(tickets, at(60))
    assert figures == {
        'waiting_now': 1,
        'avg_wait_minutes': 15.0,
        'longest_wait_minutes': 40.0,
        'avg_handling_minutes': 12.0,
        'served_today': 1,
    }
    assert ticket_figures([], at(0))['avg_wait_minutes'] is None  # shown as a dash, not as 0


def test_waiting_tickets_counted_in_the_database_add_their_number_and_the_longest_wait() -> None:
    called = [TicketTimes('completed', at(0), at(10), at(10), at(22), online=True)]  # waited 10
    not_called = NotYetCalled(count=3, oldest_taken_at=at(5), online=1)  # the oldest waiting 55 at 60
    figures = ticket_figures(called, at(60), not_called)
    assert (figures['waiting_now'], figures['longest_wait_minutes'], figures['avg_wait_minutes']) == (3, 55.0, 10.0)
    assert online_share(called, not_called) == 0.5
    assert online_share([], NotYetCalled()) is None


def test_satisfaction() -> None:
    assert satisfaction([]) == (None, None, 0)
    assert satisfaction([Rating(5, True), Rating(4, True), Rating(2, False), Rating(5, True)]) == (4.0, 0.75, 4)


def test_queue_steps_follow_the_ticket_log() -> None:
    events = [
        (at(0), 1, None, 'waiting'),  # issued
        (at(1), 1, None, 'waiting'),
        (at(2), 2, None, 'waiting'),
        (at(3), 1, 'waiting', 'called'),
        (at(4), 1, 'called', 'completed'),  # no queue change
        (at(5), 2, 'called', 'waiting'),  # transferred into service 2 from a window
        (at(6), 1, 'waiting', 'cancelled'),
    ]
    steps = queue_steps(events)
    assert [s.length for s in steps[1]] == [1, 2, 1, 0]
    assert steps[2] == [QueueStep(at(2), 1), QueueStep(at(5), 2)]
    assert busiest(steps, limit=1) == [1]


def test_wait_histogram() -> None:
    tickets = [
        TicketTimes('completed', at(0), at(3), at(3), at(9)),
        TicketTimes('called', at(0), at(7), at(7), None),
        TicketTimes('waiting', at(0), None, None, None),
    ]
    assert wait_histogram(tickets, at(33)) == {0: 1, 5: 1, 30: 1}


async def test_today_from_the_database(queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock) -> None:
    empty = await kpi.today(db, hall.hall_id, now=clock(), tz=TZ)
    assert empty.avg_wait_minutes is None and empty.satisfaction_score is None and empty.windows_open == 3
    for _ in range(3):
        await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    clock.advance(6)
    first = await queue.call_next(hall.window_1, caller=DESK)
    clock.advance(4)
    await queue.complete(hall.window_1, caller=DESK)
    await queue.set_window_state(hall.window_2, WindowState.PAUSED, caller=DESK)
    async with db.session() as s, s.begin():
        common = {'hall_id': hall.hall_id, 'ticket_id': first.ticket.id, 'scale': '5', 'created_at': clock()}
        old = Evaluation(**common, level='bad', score=1, satisfied=False)
        s.add(old)
        await s.flush()
        s.add(Evaluation(**common, level='good', score=5, satisfied=True, replaces_id=old.id))  # re-rated
        s.add(Evaluation(**common, level='fine', score=4, satisfied=True))
    clock.advance(10)
    figures = await kpi.today(db, hall.hall_id, now=clock(), tz=TZ)
    assert figures.waiting_now == 2
    assert figures.avg_wait_minutes == 6.0
    assert figures.longest_wait_minutes == 20.0  # the two still waiting since the start
    assert figures.avg_handling_minutes == 4.0 and figures.served_today == 1
    assert (figures.windows_open, figures.windows_total) == (2, 4)
    assert figures.satisfaction_score == 4.5 and figures.satisfied_share == 1.0 and figures.ratings == 2
    assert figures.device_availability is None  # the small hall has no devices

    series = await day_series.today(db, hall.hall_id, now=clock(), tz=TZ)
    assert series.arrivals_by_hour == {10: 3}
    assert series.wait_bins == {5: 1, 20: 2}
    assert [s.length for s in series.queue_lines['事项甲']] == [1, 2, 3, 2]
