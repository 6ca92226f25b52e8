"""上门服务: a visit from the phone's request to done, as a case with its timeline; who may ask, schedule, send and
see; bad addresses, slots in the past and double bookings are refused and change nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import func, select

from app.bus import InProcessBus
from app.db import Database
from app.events import Event, HomeVisitChanged
from app.models.cases import Case, CaseNode
from app.models.security import AuditEntry
from app.models.visits import HomeVisit, VisitStatus
from app.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from app.services.journey import Journey
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.tracking import PersonAct
from app.services.workflow import ACTIVE, CASE_COMPLETED, DONE, PENDING
from tests import journeyhall
from tests.journeyhall import OUTSIDER, JourneyHall, by_sms, served_ticket
from tests.visithall import ADDRESS, TOMORROW_9AM, VisitPeople, visit_people

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

SLOT = (TOMORROW_9AM, TOMORROW_9AM + dt.timedelta(hours=2))


@pytest.fixture
async def people(db: Database, journey_hall: JourneyHall) -> VisitPeople:
    return await visit_people(db, journey_hall)


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


def steps(view: object) -> list[tuple[str, str]]:
    return [(node.kind, node.status) for node in view.case.nodes]  # type: ignore[attr-defined]


async def visit_rows(db: Database) -> tuple[int, int, int]:
    async with db.read_session() as s:
        return (
            (await s.execute(select(func.count()).select_from(HomeVisit))).scalar_one(),
            (await s.execute(select(func.count()).select_from(Case))).scalar_one(),
            (await s.execute(select(func.count()).select_from(AuditEntry))).scalar_one(),
        )


async def visit_actions(db: Database) -> list[tuple[str, str]]:
    async with db.read_session() as s:
        rows = await s.execute(
            select(AuditEntry.actor, AuditEntry.action).where(AuditEntry.action.startswith('home_visit'))  # type: ignore[attr-defined]
        )
        return [(actor, action) for actor, action in rows]


async def test_a_visit_goes_from_request_to_done_with_its_timeline_and_the_citizen_follows_it(
    journey: Journey, people: VisitPeople, bus: InProcessBus, db: Database
) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    visits = journey.visits

    asked = await visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    assert asked.visit.status == VisitStatus.REQUESTED
    assert steps(asked) == [
        ('accept', DONE),
        ('schedule', ACTIVE),
        ('assign', PENDING),
        ('visit', PENDING),
        ('conclude', PENDING),
    ]
    assert asked.case.case.kind == 'home_visit' and asked.case.case.due_at is not None
    assert asked.case.nodes[1].due_at is not None  # agreeing a slot has its own deadline

    scheduled = await visits.schedule(people.department, asked.id, start=SLOT[0], end=SLOT[1])
    assert scheduled.visit.status == VisitStatus.SCHEDULED
    assert [s for s in steps(scheduled)][1:3] == [('schedule', DONE), ('assign', ACTIVE)]
    assert '11月26日 09:00' in scheduled.case.nodes[1].note

    assigned = await visits.assign(people.department, asked.id, [people.clerk_id])
    assert assigned.visit.status == VisitStatus.ASSIGNED and assigned.assignees == ['张三']
    assert steps(assigned)[2:4] == [('assign', DONE), ('visit', ACTIVE)]
    assert _aware(assigned.case.nodes[3].due_at) == SLOT[1]  # the visit is due by the slot's end

    done = await visits.complete(people.clerk, asked.id, note='已上门核验材料')
    assert done.visit.status == VisitStatus.DONE and done.case.case.status == CASE_COMPLETED
    assert all(status == DONE for _, status in steps(done))

    [mine] = await visits.mine(people.phone)
    assert mine.visit.status == VisitStatus.DONE and mine.address_masked == '北京市朝阳区****'
    assert [node.name for node in mine.case.nodes][-2:] == ['上门办理', '办结']
    assert await visits.mine(people.other_phone) == []
    changes = [e.status for e in seen if isinstance(e, HomeVisitChanged)]
    assert changes == ['requested', 'scheduled', 'assigned', 'done']
    assert await visit_actions(db) == [
        (people.phone.name, 'home_visit_requested'),
        ('rv_dept', 'home_visit_scheduled'),
        ('rv_dept', 'home_visit_assigned'),
        ('w01', 'home_visit_done'),
    ]


async def test_the_address_is_stored_encrypted_shown_masked_and_read_whole_only_by_those_sent(
    journey: Journey, people: VisitPeople, db: Database
) -> None:
    visits = journey.visits
    asked = await visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    async with db.read_session() as s:
        stored = (await s.execute(select(HomeVisit))).scalar_one()
    assert ADDRESS not in stored.address_enc and '望京' not in stored.address_enc
    [queued] = await visits.queue(people.manager)
    assert queued.address_masked == '北京市朝阳区****'
    await visits.schedule(people.manager, asked.id, start=SLOT[0], end=SLOT[1])
    await visits.assign(people.manager, asked.id, [people.clerk_id])
    assert await visits.address(people.clerk, asked.id) == ADDRESS
    with pytest.raises(Forbidden) as refused:
        await visits.address(people.elsewhere, asked.id)
    assert refused.value.code == 'not_your_department'
    assert ('w01', 'home_visit_address_read') in await visit_actions(db)


async def test_bad_addresses_are_refused_and_change_nothing(
    journey: Journey, people: VisitPeople, db: Database
) -> None:
    before = await visit_rows(db)
    for address in ('', '   ', '北京', 'x' * 201):
        with pytest.raises(Invalid) as refused:
            await journey.visits.request(people.phone, service_code='SVC-C', address=address)
        assert refused.value.code == 'visit_address_invalid'
    assert await visit_rows(db) == before


async def test_only_a_signed_in_phone_or_staff_may_ask(journey: Journey, people: VisitPeople, db: Database) -> None:
    before = await visit_rows(db)
    for caller in (Principal.anonymous('10.0.0.9'), people.manager):
        with pytest.raises(Unauthorized):
            await journey.visits.request(caller, service_code='SVC-C', address=ADDRESS)
    with pytest.raises(Forbidden) as refused:
        await journey.visits.request_for(people.manager, service_code='SVC-C', address=ADDRESS, id_number=' ')
    assert refused.value.code == 'visit_needs_citizen'
    with pytest.raises(Forbidden) as refused:
        await journey.visits.request_for(people.phone, service_code='SVC-C', address=ADDRESS, id_number=OUTSIDER)
    assert refused.value.code == 'forbidden'
    assert await visit_rows(db) == before
    asked = await journey.visits.request_for(people.manager, service_code='SVC-C', address=ADDRESS, id_number=OUTSIDER)
    assert asked.visit.citizen_id is not None and asked.visit.requested_by == 'boss'


async def test_one_open_visit_per_service_and_person(journey: Journey, people: VisitPeople) -> None:
    await journey.visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    with pytest.raises(Conflict) as refused:
        await journey.visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    assert refused.value.code == 'visit_already_requested'
    await journey.visits.request(people.other_phone, service_code='SVC-C', address=ADDRESS)  # someone else may


async def test_staff_of_another_department_may_neither_see_nor_schedule_nor_send(
    journey: Journey, people: VisitPeople, db: Database
) -> None:
    visits = journey.visits
    asked = await visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    assert await visits.queue(people.elsewhere) == []
    assert [v.id for v in await visits.queue(people.department)] == [asked.id]
    before = await visit_rows(db)
    with pytest.raises(Forbidden) as refused:
        await visits.schedule(people.elsewhere, asked.id, start=SLOT[0], end=SLOT[1])
    assert refused.value.code == 'not_your_department'
    with pytest.raises(Forbidden):
        await visits.schedule(people.phone, asked.id, start=SLOT[0], end=SLOT[1])
    with pytest.raises(Forbidden):
        await visits.queue(people.phone)
    assert await visit_rows(db) == before


async def test_a_slot_in_the_past_too_long_or_backwards_is_refused_and_changes_nothing(
    journey: Journey, people: VisitPeople, db: Database
) -> None:
    asked = await journey.visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    now = journeyhall.WEDNESDAY_10AM
    before = await visit_rows(db)
    for start, end, code in (
        (now - dt.timedelta(hours=1), now + dt.timedelta(hours=1), 'visit_slot_in_past'),
        (now, now + dt.timedelta(hours=1), 'visit_slot_in_past'),
        (SLOT[1], SLOT[0], 'visit_slot_invalid'),
        (SLOT[0], SLOT[0] + dt.timedelta(hours=5), 'visit_slot_invalid'),
        (SLOT[0].replace(tzinfo=None), SLOT[1].replace(tzinfo=None), 'visit_slot_invalid'),
    ):
        with pytest.raises(Invalid) as refused:
            await journey.visits.schedule(people.department, asked.id, start=start, end=end)
        assert refused.value.code == code
    assert await visit_rows(db) == before
    [still] = await journey.visits.mine(people.phone)
    assert still.visit.status == VisitStatus.REQUESTED and still.visit.slot_start is None


async def test_nobody_is_sent_to_two_doors_at_once(journey: Journey, people: VisitPeople, db: Database) -> None:
    visits = journey.visits
    first = await visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    second = await visits.request(people.other_phone, service_code='SVC-C', address='北京市海淀区中关村大街1号')
    await visits.schedule(people.manager, first.id, start=SLOT[0], end=SLOT[1])
    await visits.assign(people.manager, first.id, [people.clerk_id])
    overlapping = (SLOT[0] + dt.timedelta(hours=1), SLOT[1] + dt.timedelta(hours=1))
    await visits.schedule(people.manager, second.id, start=overlapping[0], end=overlapping[1])
    before = await visit_rows(db)
    with pytest.raises(Conflict) as refused:
        await visits.assign(people.manager, second.id, [people.clerk_id])
    assert refused.value.code == 'visit_double_booked'
    assert await visit_rows(db) == before
    await visits.assign(people.manager, second.id, [people.manager_id])  # someone else is free
    with pytest.raises(Conflict):  # nor may the first visit move onto the manager's slot with the clerk
        await visits.assign(people.manager, first.id, [people.clerk_id, people.manager_id])


async def test_the_visit_must_be_scheduled_before_people_are_sent_and_sent_before_it_is_done(
    journey: Journey, people: VisitPeople
) -> None:
    visits = journey.visits
    asked = await visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    with pytest.raises(Conflict) as refused:
        await visits.assign(people.manager, asked.id, [people.clerk_id])
    assert refused.value.code == 'visit_not_scheduled'
    with pytest.raises(Conflict) as refused:
        await visits.complete(people.manager, asked.id)
    assert refused.value.code == 'visit_not_assigned'
    await visits.schedule(people.manager, asked.id, start=SLOT[0], end=SLOT[1])
    with pytest.raises(Invalid) as refused:
        await visits.assign(people.manager, asked.id, [])
    assert refused.value.code == 'visit_staff_count'
    with pytest.raises(NotFound) as missing:
        await visits.assign(people.manager, asked.id, [999_999])
    assert missing.value.code == 'visit_staff_unknown'


@pytest.fixture
async def act(journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall) -> PersonAct:
    """The citizen's phone proved on their own ticket: what invites a relative."""
    small = journey_hall.small
    ticket = await served_ticket(hall_queue, small.window_2, 'SVC-B', id_number=OUTSIDER, phone='13900001234')
    return await by_sms(journey, ticket.ticket.code)


async def test_a_relative_may_ask_only_when_the_grant_lets_them_fill_in_and_then_follows_it(
    journey: Journey, act: PersonAct, db: Database
) -> None:
    watch_only = (await journey.proxy.invite(act, relation='子女', hours=4, can_fill=False)).token
    before = await visit_rows(db)
    with pytest.raises(Forbidden) as refused:
        await journey.visits.request_for_grant(watch_only, service_code='SVC-C', address=ADDRESS)
    assert refused.value.code == 'proxy_view_only'
    with pytest.raises(Forbidden) as refused:
        await journey.visits.request_for_grant('not-a-token', service_code='SVC-C', address=ADDRESS)
    assert refused.value.code == 'proxy_ended'
    assert await visit_rows(db) == before
    helper = (await journey.proxy.invite(act, relation='子女', hours=4, can_fill=True)).token
    asked = await journey.visits.request_for_grant(helper, service_code='SVC-C', address=ADDRESS)
    assert asked.visit.grant_id is not None and asked.visit.requested_by.startswith('proxy:')
    assert asked.visit.citizen_id == act.citizen_id
    assert [v.id for v in await journey.visits.for_grant(helper)] == [asked.id]
    assert await journey.visits.for_grant(watch_only) == []


async def test_a_late_schedule_step_is_swept_like_any_case_node(
    journey: Journey, people: VisitPeople, clock: object, db: Database
) -> None:
    await journey.visits.request(people.phone, service_code='SVC-C', address=ADDRESS)
    clock.now = journeyhall.WEDNESDAY_10AM + dt.timedelta(days=7)  # type: ignore[attr-defined]
    warned = await journey.cases.sla_sweep()
    async with db.read_session() as s:
        schedule = (await s.execute(select(CaseNode).where(CaseNode.kind == 'schedule'))).scalar_one()
    assert schedule.id in {event.node_id for event in warned}
