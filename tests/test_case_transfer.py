"""跨区通办: a case moved to a second hall in the same database keeps its number and every piece of its history.

Two halls: the journey hall (the source) and 东区政务服务中心, built here with a zone and a window of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from app.bus import InProcessBus
from app.db import Database
from app.events import CaseStepChanged
from app.models.cases import Case, CaseMaterial, CaseNode, Certificate, Evaluation, Notification
from app.models.operations import Alert
from app.models.people import Role
from app.models.security import AuditEntry
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.alerts import Kind as AlertKind
from app.services.alerts import sla_cleared, sla_key
from app.services.case_transfer import CASE_TRANSFERRED, TRANSFER_KIND
from app.services.case_views import CaseView
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.journey import Journey, build_journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.workflow import ACTIVE, CASE_COMPLETED, CASE_OPEN, DONE
from app.settings import Settings
from tests import journeyhall
from tests.callers import deps_for
from tests.conftest import FakeClock
from tests.easthall import EAST, add_east_hall
from tests.journeyhall import LOCAL_CITIZEN, PARALLEL, JourneyHall, grant_department_data, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

BOSS = Principal(Kind.STAFF, 'boss', Role.MANAGER)


@dataclass(frozen=True)
class EastHall:
    hall_id: int
    window_id: int
    journey: Journey  # the services as the east hall's own process builds them


@pytest.fixture
async def east(
    db: Database, bus: InProcessBus, journey_settings: Settings, cipher: FieldCipher, clock: FakeClock
) -> EastHall:
    """A second hall of the city with one open window, and its services on the same database and bus."""
    async with db.session() as s, s.begin():
        ids = await add_east_hall(s)
    hall_id, window_id = ids.hall_id, ids.window_id
    deps = deps_for(db, bus, hall_id=hall_id, settings=journey_settings, clock=clock, cipher=cipher)
    return EastHall(hall_id, window_id, build_journey(deps))


async def bundle_case(journey: Journey, hall_queue: QueueService, hall: JourneyHall) -> CaseView:
    """A 一件事一次办 case with history: accepted, its material review approved, five departments at work."""
    ticket = await served_ticket(hall_queue, hall.small.window_1, 'SVC-A', id_number=LOCAL_CITIZEN, phone='13812345678')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w01')
    review = next(node for node in view.nodes if node.name == '材料审核')
    return await journey.cases.decide(review.id or 0, approve=True, actor='rv_samr', department_id=review.department_id)


def clerk_of(window_id: int) -> Principal:
    return Principal(Kind.STAFF, 'w01', Role.STAFF, window_id=window_id)


def columns(row: Any) -> dict[str, Any]:
    return row.model_dump()


async def case_record(db: Database, case_id: int) -> dict[str, Any]:
    """Everything attached to a case, row by row and field by field."""
    async with db.read_session() as s:
        case = await s.get(Case, case_id)
        assert case is not None

        async def rows(model: Any, *order: Any) -> list[dict[str, Any]]:
            statement = select(model).where(model.case_id == case_id).order_by(*order)
            return [columns(row) for row in (await s.execute(statement)).scalars()]

        return {
            'case': columns(case),
            'nodes': await rows(CaseNode, col(CaseNode.id)),
            'materials': await rows(CaseMaterial, col(CaseMaterial.id)),
            'certificates': await rows(Certificate, col(Certificate.id)),
            'evaluations': await rows(Evaluation, col(Evaluation.id)),
            'notifications': await rows(Notification, col(Notification.id)),
        }


async def count(db: Database, model: Any) -> int:
    async with db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def rate(db: Database, view: CaseView) -> None:
    """A rating of the service at the source hall, tied to the case (what 好差评 writes)."""
    async with db.session() as s, s.begin():
        s.add(
            Evaluation(
                hall_id=view.case.hall_id,
                ticket_id=view.case.ticket_id or 0,
                case_id=view.id,
                scale='five',
                level='satisfied',
                score=4,
                satisfied=True,
                created_at=view.case.created_at,
            )
        )


# ---- the move ------------------------------------------------------------------------------------


async def test_a_transferred_case_keeps_its_number_and_every_field_of_its_history(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, db: Database
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    await rate(db, view)
    before = await case_record(db, view.id)
    assert before['nodes'] and before['notifications'] and before['evaluations']

    moved = await journey.transfers.transfer(
        view.id, to_hall_id=east.hall_id, reason='户籍在东区，由东区审批', caller=BOSS
    )

    after = await case_record(db, view.id)
    assert moved.id == view.id and moved.code == view.code
    assert after['case'] == {**before['case'], 'hall_id': east.hall_id}
    for name in ('materials', 'certificates', 'evaluations'):
        assert after[name] == before[name], name
    *kept, step = after['nodes']
    assert kept == before['nodes'], 'every earlier step stays as it was'
    assert after['notifications'][: len(before['notifications'])] == before['notifications']
    assert step['kind'] == TRANSFER_KIND and step['status'] == DONE
    assert step['name'] == f'转至{EAST}' and step['actor'] == 'boss'
    assert step['started_at'] == step['finished_at'] == journey.cases.clock()
    assert step['note'] == f'由测试大厅转至{EAST}办理，办件编号和办理进度不变。原因：户籍在东区，由东区审批'
    assert step['stage'] == 2, 'the move is written at the stage the case had reached'
    assert moved.case.status == CASE_OPEN
    assert [n.status for n in moved.nodes if n.name in PARALLEL] == [ACTIVE] * 5, 'the work in progress goes on'


async def test_the_target_hall_sees_and_carries_on_the_case_and_the_source_hall_no_longer_does(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    assert {p.case.id for p in await journey.cases.pending_for(None)} == {view.id}
    await journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='跨区通办', caller=BOSS)

    assert await journey.cases.pending_for(None) == []
    pending = await east.journey.cases.pending_for(None)
    assert {p.node.name for p in pending} == set(PARALLEL)
    with pytest.raises(NotFound):
        await journey.cases.view(view.id)
    for item in pending:
        await east.journey.cases.decide(
            item.node.id or 0, approve=True, actor='rv_east', department_id=item.node.department_id
        )
    done = await east.journey.cases.view(view.id)
    assert next(n for n in done.nodes if n.name == '办结').status == DONE
    assert done.case.hall_id == east.hall_id


async def test_the_citizen_follows_the_moved_case_by_its_old_codes_and_is_told_in_plain_chinese(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, db: Database
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    await journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='跨区通办', caller=BOSS)

    by_case = await journey.tracking.follow(view.code)
    tracked = await journey.cases.tracked_view(by_case.case_id or 0)
    [step] = [node for node in tracked.nodes if node.kind == TRANSFER_KIND]
    assert step.name == f'转至{EAST}' and step.stage == 2, 'shown where the case stood when it moved'
    [by_ticket] = await journey.cases.views_for_ticket(view.case.ticket_id or 0)
    assert [node.id for node in by_ticket.nodes if node.kind == TRANSFER_KIND] == [step.id]
    async with db.read_session() as s:
        statement = select(Notification).where(Notification.case_id == view.id, col(Notification.text).contains('转至'))
        told = list((await s.execute(statement)).scalars())
    assert {n.channel for n in told} == {'push', 'sms'}
    told_by = {n.channel: n.text for n in told}
    plain = f'您的「事项甲」已转至{EAST}办理，办件编号不变，进度请在原办件进度页查看'
    assert told_by['sms'] == plain, 'a text carries the template only, never staff words'
    assert told_by['push'].startswith(plain) and told_by['push'].endswith('原因：跨区通办'), 'the page shows why'


async def test_the_move_is_in_the_audit_chain_and_published_for_both_halls(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    east: EastHall,
    db: Database,
    bus: InProcessBus,
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    seen: list[CaseStepChanged] = []
    bus.subscribe(lambda event: seen.append(event) if isinstance(event, CaseStepChanged) else None)
    await journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='跨区通办', caller=BOSS)
    await bus.drain()

    assert {(e.hall_id, e.kind, e.case_id) for e in seen} == {
        (journey_hall.hall_id, TRANSFER_KIND, view.id),
        (east.hall_id, TRANSFER_KIND, view.id),
    }
    async with db.read_session() as s:
        [entry] = (await s.execute(select(AuditEntry).where(AuditEntry.action == CASE_TRANSFERRED))).scalars()
    assert entry.actor == 'boss' and entry.target == f'case:{view.id}'
    assert entry.detail['from'] == 'main' and entry.detail['to'] == 'east'
    assert (await audit.verify(db)).ok


async def test_a_clerk_moves_the_case_of_the_ticket_at_their_own_window(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C', id_number=LOCAL_CITIZEN)
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w01')
    moved = await journey.transfers.transfer(
        ticket_code=ticket.ticket.code,
        to_hall_id=east.hall_id,
        reason='  由东区   办理 ',
        caller=clerk_of(journey_hall.small.window_4),
    )
    assert moved.id == view.id and moved.case.hall_id == east.hall_id
    [step] = [node for node in moved.nodes if node.kind == TRANSFER_KIND]
    assert step.note.endswith('原因：由东区 办理') and step.actor == 'w01'


async def test_the_desk_lists_every_other_hall(journey: Journey, east: EastHall) -> None:
    halls = await journey.transfers.other_halls()
    assert [(h.id, h.code, h.name) for h in halls] == [(east.hall_id, 'east', EAST)]
    assert 'main' in [h.code for h in await east.journey.transfers.other_halls()]


# ---- refusals ------------------------------------------------------------------------------------


async def refused_unchanged(db: Database, case_id: int, attempt: Any, error: type[Exception], code: str) -> None:
    before = await case_record(db, case_id), await count(db, AuditEntry), await count(db, CaseNode)
    with pytest.raises(error) as raised:
        await attempt
    assert getattr(raised.value, 'code', None) == code
    assert (await case_record(db, case_id), await count(db, AuditEntry), await count(db, CaseNode)) == before


async def test_bad_halls_a_missing_reason_and_the_same_hall_are_refused_and_change_nothing(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, db: Database
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    transfer = journey.transfers.transfer
    await refused_unchanged(
        db, view.id, transfer(view.id, to_hall_id=99_999, reason='x', caller=BOSS), Invalid, 'unknown_hall'
    )
    same = transfer(view.id, to_hall_id=journey_hall.hall_id, reason='x', caller=BOSS)
    await refused_unchanged(db, view.id, same, Conflict, 'same_hall')
    blank = transfer(view.id, to_hall_id=east.hall_id, reason=' \n ', caller=BOSS)
    await refused_unchanged(db, view.id, blank, Invalid, 'transfer_reason_required')
    long = transfer(view.id, to_hall_id=east.hall_id, reason='长' * 201, caller=BOSS)
    await refused_unchanged(db, view.id, long, Invalid, 'transfer_reason_too_long')
    unknown = transfer(view.id + 1000, to_hall_id=east.hall_id, reason='x', caller=BOSS)
    await refused_unchanged(db, view.id, unknown, NotFound, 'unknown_case')


async def test_a_closed_case_stays_where_it_was_concluded(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, db: Database
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=LOCAL_CITIZEN)
    await grant_department_data(journey, ticket.ticket.citizen_id or 0, 'SVC-B')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w02', answers={'employment': 'flexible'})
    assert view.case.status == CASE_COMPLETED
    closed = journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='x', caller=BOSS)
    await refused_unchanged(db, view.id, closed, Conflict, 'case_closed')


async def test_only_staff_of_the_cases_hall_may_move_it(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, db: Database
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    source = journey.transfers.transfer
    east_clerk = clerk_of(east.window_id)
    await refused_unchanged(
        db, view.id, source(view.id, to_hall_id=east.hall_id, reason='x', caller=east_clerk), Forbidden, 'not_your_hall'
    )
    reviewer = Principal(Kind.STAFF, 'rv_samr', Role.REVIEWER, department_id=journey_hall.departments['SAMR'])
    for caller in (reviewer, Principal.anonymous(), Principal.citizen(view.case.citizen_id)):
        attempt = source(view.id, to_hall_id=east.hall_id, reason='x', caller=caller)
        await refused_unchanged(db, view.id, attempt, Forbidden, 'forbidden')
    # the east hall's own services cannot reach a case of the journey hall, even its manager
    taken = east.journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='x', caller=BOSS)
    await refused_unchanged(db, view.id, taken, NotFound, 'unknown_case')
    back = east.journey.transfers.transfer(view.id, to_hall_id=journey_hall.hall_id, reason='x', caller=BOSS)
    await refused_unchanged(db, view.id, back, NotFound, 'unknown_case')


async def test_the_source_halls_deadline_alerts_for_the_case_end_when_it_leaves(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, east: EastHall, bus: InProcessBus
) -> None:
    view = await bundle_case(journey, hall_queue, journey_hall)
    node = next(n for n in view.nodes if n.status == ACTIVE)
    kind, target = AlertKind.SLA_AT_RISK, f'case:{view.id}'
    left = Alert(
        hall_id=journey_hall.hall_id, key=sla_key(kind, view.id, node.id or 0), kind=kind, target=target, message=''
    )
    seen: list[CaseStepChanged] = []
    bus.subscribe(lambda event: seen.append(event) if isinstance(event, CaseStepChanged) else None)
    await journey.transfers.transfer(view.id, to_hall_id=east.hall_id, reason='跨区通办', caller=BOSS)
    await bus.drain()

    assert [(event.hall_id, sla_cleared(left, event)) for event in seen] == [
        (journey_hall.hall_id, True),  # the hall the case left stops warning about its deadlines
        (east.hall_id, False),
    ]
