"""Call board rules: what is said aloud, how the list moves, which windows a zone's board shows."""

from __future__ import annotations

import pytest

from app.db import Database
from app.events import TicketCalled, TicketResumed
from app.models import Zone
from app.services.call_board import Call, announcement, board_scope, push_call
from app.services.errors import NotFound
from tests.factories import SmallHall
from tests.kiosk_hall import add_kiosk_hall
from tests.test_bus import issued


def test_every_announcement_names_the_number_and_the_window() -> None:
    assert announcement('A012', 5) == '请 A012 号到 5 号窗口办理'
    assert Call('B003', 12, recall=True).announcement == '请 B003 号到 12 号窗口办理'
    assert Call('A012', 5).announcement_en == 'Number A012, please go to window 5'  # the displays' English line


def test_a_call_is_read_from_its_event_and_an_event_without_a_window_makes_none() -> None:
    snapshot = issued(1).payload.model_copy(update={'status': 'called', 'window_id': 3, 'window_number': 4})
    assert Call.of(TicketCalled(hall_id=1, payload=snapshot, recall=True)) == Call('A001', 4, recall=True)
    assert Call.of(TicketResumed(hall_id=1, payload=snapshot)) == Call('A001', 4)
    assert Call.of(issued(1)) is None


def test_the_list_is_newest_first_and_a_recall_moves_its_line_to_the_top() -> None:
    calls: list[Call] = []
    for number in ('A001', 'A002', 'A003'):
        calls = push_call(calls, Call(number, 1))
    assert [c.number for c in calls] == ['A003', 'A002', 'A001']
    calls = push_call(calls, Call('A001', 1, recall=True))
    assert [(c.number, c.recall) for c in calls] == [('A001', True), ('A003', False), ('A002', False)]
    for n in range(20):
        calls = push_call(calls, Call(f'B{n:03d}', 2), limit=4)
    assert len(calls) == 4


async def test_a_zone_board_shows_its_windows_and_their_services(db: Database, hall: SmallHall) -> None:
    extra = await add_kiosk_hall(db, hall.hall_id)
    everything = await board_scope(db, hall.hall_id, None)
    assert everything.window_ids is None and everything.shows_window(hall.window_4) and everything.shows_service(99)
    general = await board_scope(db, hall.hall_id, 'general')
    assert general.title == '综合受理' and general.window_ids == {
        hall.window_1,
        hall.window_2,
        hall.window_3,
        hall.window_4,
    }
    senior = await board_scope(db, hall.hall_id, 'senior')
    assert senior.window_ids == {extra.senior_window_id} and not senior.shows_window(hall.window_1)
    assert not senior.shows_window(None)
    with pytest.raises(NotFound):
        await board_scope(db, hall.hall_id, 'nowhere')


async def test_a_zone_without_windows_gets_the_hall_wide_board(db: Database, hall: SmallHall) -> None:
    async with db.session() as s, s.begin():
        s.add(Zone(hall_id=hall.hall_id, code='rest', name='休息区'))
    rest = await board_scope(db, hall.hall_id, 'rest')
    assert rest.title == '休息区' and rest.window_ids is None and rest.shows_window(hall.window_2)
