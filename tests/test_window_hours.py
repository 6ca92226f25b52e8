"""A window's own opening hours inside the hall's: checked where they are written, refused calls outside them,
and booking places that count a window only for the minutes it is open (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlmodel import select

from app.db import Database
from app.models import TicketCreate, TicketStatus
from app.models.hall import Window
from app.models.ticket import Ticket
from app.services.booking import BookingService
from app.services.errors import Conflict
from app.services.hall_spec import SeedError, WindowSpec, validate
from app.services.queue import QueueService
from app.services.window_hours import OpeningPeriod, is_open_at, open_share
from app.settings import Settings
from tests.bookinghall import MONDAY, at
from tests.callers import DESK, deps_for
from tests.conftest import FakeClock
from tests.factories import SmallHall

SHANGHAI = ZoneInfo('Asia/Shanghai')
MORNINGS = [{'start': '09:00', 'end': '12:00', 'days': [1, 2, 3, 4, 5]}]


def window_spec(hours: list[dict[str, object]]) -> WindowSpec:
    raw = {
        'number': 1,
        'name': '1号窗口',
        'zone': 'general',
        'x': 10,
        'y': 10,
        'state': 'open',
        'services': [{'code': 'A', 'priority': 1}],
        'hours': hours,
    }
    return validate('windows.yaml', raw, WindowSpec)


async def set_hours(db: Database, window_id: int, hours: list[dict[str, object]]) -> None:
    async with db.session() as s, s.begin():
        window = await s.get(Window, window_id)
        assert window is not None
        window.hours = hours


@pytest.mark.parametrize(
    ('hours', 'problem'),
    [
        ([{'start': '12:00', 'end': '09:00'}], 'the start must come before the end'),
        ([{'start': '07:00', 'end': '09:00'}], 'within the hall hours 08:00-18:00'),
        ([{'start': '17:00', 'end': '18:30'}], 'within the hall hours 08:00-18:00'),
        ([{'start': '9:00', 'end': '12:00'}], 'string should match pattern'),
        ([{'start': '09:00', 'end': '12:00', 'days': [8]}], 'less than or equal to 7'),
        ([{'start': '09:00', 'end': '12:00', 'days': [1, 1]}], 'a weekday is named twice'),
        ([{'start': '09:00', 'end': '12:00'}, {'start': '11:00', 'end': '14:00', 'days': [3]}], 'overlap'),
    ],
)
def test_hours_outside_the_hall_or_backwards_or_overlapping_are_refused_with_the_reason(
    hours: list[dict[str, object]], problem: str
) -> None:
    with pytest.raises(SeedError) as refused:
        window_spec(hours)
    assert 'windows.yaml' in str(refused.value) and problem in str(refused.value).lower()


def test_a_lunch_break_and_periods_on_other_days_are_accepted() -> None:
    spec = window_spec(
        [
            {'start': '09:00', 'end': '12:00'},
            {'start': '13:30', 'end': '17:00', 'days': [5, 1]},
            {'start': '12:00', 'end': '13:00', 'days': [6]},
        ]
    )
    assert [p.days for p in spec.hours] == [[], [1, 5], [6]]
    with pytest.raises(ValidationError):
        OpeningPeriod(start='10:00', end='10:00')


def test_a_window_is_open_only_inside_its_periods_on_their_weekdays() -> None:
    periods = [OpeningPeriod(start='09:00', end='12:00', days=[1, 2, 3, 4, 5])]
    assert is_open_at(periods, at(MONDAY, 9), SHANGHAI)
    assert is_open_at(periods, at(MONDAY, 11, 59), SHANGHAI)
    assert not is_open_at(periods, at(MONDAY, 12), SHANGHAI)
    assert not is_open_at(periods, at(MONDAY, 8, 59), SHANGHAI)
    assert not is_open_at(periods, at(MONDAY - dt.timedelta(days=2), 10), SHANGHAI)  # Saturday
    assert is_open_at([], at(MONDAY, 7), SHANGHAI)  # no hours of its own: the hall's hours decide


def test_the_open_share_of_a_slot_counts_only_the_minutes_inside_the_periods() -> None:
    periods = [OpeningPeriod(start='08:00', end='09:15'), OpeningPeriod(start='09:20', end='09:25')]
    assert open_share(periods, at(MONDAY, 8, 30), at(MONDAY, 9), SHANGHAI) == 1.0
    assert open_share(periods, at(MONDAY, 9), at(MONDAY, 9, 30), SHANGHAI) == pytest.approx(20 / 30)
    assert open_share(periods, at(MONDAY, 10), at(MONDAY, 10, 30), SHANGHAI) == 0.0
    assert open_share([], at(MONDAY, 10), at(MONDAY, 10, 30), SHANGHAI) == 1.0


async def test_a_window_outside_its_hours_cannot_call_and_the_ticket_keeps_waiting(
    queue: QueueService, hall: SmallHall, db: Database, clock: FakeClock
) -> None:
    await set_hours(db, hall.window_1, MORNINGS)
    issued = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    for moment in (at(MONDAY - dt.timedelta(days=2), 10), at(MONDAY, 12, 30)):  # Saturday; after noon
        clock.now = moment.astimezone(dt.UTC)
        for call in (
            queue.call_next(hall.window_1, caller=DESK),
            queue.call_ticket(hall.window_1, issued.ticket.number, reason='材料已备齐', caller=DESK),
        ):
            with pytest.raises(Conflict) as refused:
                await call
            assert refused.value.code == 'window_outside_hours'
    async with db.read_session() as s:
        ticket = (await s.execute(select(Ticket).where(Ticket.id == issued.ticket.id))).scalar_one()
        window = await s.get(Window, hall.window_1)
    assert ticket.status == TicketStatus.WAITING and window is not None and window.current_ticket_id is None
    clock.now = at(MONDAY, 10).astimezone(dt.UTC)
    called = await queue.call_next(hall.window_1, caller=DESK)
    assert called.ticket.id == issued.ticket.id


async def test_booking_places_count_a_window_only_while_it_is_open(
    db: Database, settings: Settings, hall: SmallHall, clock: FakeClock
) -> None:
    bookings = BookingService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    await set_hours(db, hall.window_1, [{'start': '08:00', 'end': '09:15'}])
    capacity = {slot.start: slot.capacity for slot in await bookings.slots(hall.service_a, MONDAY)}
    assert capacity[at(MONDAY, 8)] == 3  # 2 windows x 30 / 10 min x 0.5
    assert capacity[at(MONDAY, 9)] == 2  # 1.5 windows: window 1 is open for half of it
    assert capacity[at(MONDAY, 10)] == 1  # window 3 alone
    await set_hours(db, hall.window_4, MORNINGS)  # the only window serving C
    c = {slot.start: slot.capacity for slot in await bookings.slots(hall.service_c, MONDAY)}
    assert (c[at(MONDAY, 8, 30)], c[at(MONDAY, 9)], c[at(MONDAY, 11, 30)], c[at(MONDAY, 12)]) == (0, 1, 1, 0)
