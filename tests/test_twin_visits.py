"""The twin's 上门服务 queue: a visit enters when asked, moves when scheduled and staffed, leaves when done; a
repeated event changes nothing; a restarted twin reads the open visits back from the database."""

from __future__ import annotations

import datetime as dt

from app.db import Database
from app.events import HomeVisitChanged
from app.services.journey import Journey
from tests import journeyhall
from tests.journeyhall import JourneyHall
from tests.visithall import ADDRESS, TOMORROW_9AM, visit_people
from twin.layout import load_layout
from twin.visits import VISIT, VisitTwin, queue_order, reduce_visit, visit_of

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture

ASKED = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)


def change(visit_id: int, status: str, **fields: object) -> HomeVisitChanged:
    return HomeVisitChanged(
        hall_id=1,
        visit_id=visit_id,
        case_id=visit_id,
        service_code='SVC-C',
        department_id=1,
        status=status,
        requested_at=ASKED,
        **fields,
    )


def test_a_visit_enters_moves_and_leaves_the_queue_and_a_repeat_changes_nothing() -> None:
    visits: dict[int, VisitTwin] = {}
    assert reduce_visit(visits, change(7, 'requested')) == {(VISIT, 7)}
    assert reduce_visit(visits, change(7, 'requested')) == set()
    slot = {'slot_start': TOMORROW_9AM, 'slot_end': TOMORROW_9AM + dt.timedelta(hours=2)}
    assert reduce_visit(visits, change(7, 'scheduled', **slot)) == {(VISIT, 7)}
    assert reduce_visit(visits, change(7, 'assigned', assignees=2, **slot)) == {(VISIT, 7)}
    assert (visits[7].status, visits[7].assignees) == ('assigned', 2)
    assert reduce_visit(visits, change(8, 'requested')) == {(VISIT, 8)}
    assert [v.id for v in queue_order(visits)] == [7, 8]  # scheduled first, then by request time
    assert reduce_visit(visits, change(7, 'done', **slot)) == {(VISIT, 7)}
    assert list(visits) == [8]
    assert reduce_visit(visits, change(7, 'done', **slot)) == set()


async def test_a_restarted_twin_reads_the_open_visits_back(
    journey: Journey, db: Database, journey_hall: JourneyHall
) -> None:
    people = await visit_people(db, journey_hall)
    asked = await journey.visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    layout = await load_layout(db, journey_hall.hall_id)
    [visit] = [visit_of(v) for v in layout.visits]
    assert (visit.id, visit.status, visit.service_code) == (asked.id, 'requested', 'SVC-C')
    assert ADDRESS not in str(layout.visits[0].model_dump())
