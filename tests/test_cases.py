"""Cases: nodes and SLAs from the workflow, parallel approvals, returns, 秒批, 零材料, e-certificates, SLA sweeps."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import CaseStepChanged, Event, SlaAtRisk
from app.models.cases import DepartmentRecord, Notification
from app.models.security import AuditEntry
from app.security.crypto import FieldCipher
from app.services import audit
from app.services.case_views import CaseView
from app.services.department_data import unseal
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.journey import Journey
from app.services.queue import QueueService
from app.services.workflow import (
    ACTIVE,
    APPROVED,
    CASE_COMPLETED,
    CASE_OPEN,
    CASE_RETURNED,
    DONE,
    PENDING,
    RETURNED,
    parse_workflow,
)
from seed import SeedError, read_seed
from seed.department_records import load_department_records
from seed.schema import SEED_ROOT
from tests import journeyhall
from tests.callers import DESK
from tests.conftest import FakeClock
from tests.journeyhall import (
    INSTANT_RULE,
    LOCAL_CITIZEN,
    OUTSIDER,
    PARALLEL,
    JourneyHall,
    grant_department_data,
    served_ticket,
)

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture


def nodes_named(view: CaseView, *names: str) -> list:
    return [node for node in view.nodes if node.name in names]


def status_of(view: CaseView, name: str) -> str:
    return [node for node in view.nodes if node.name == name][-1].status


def recorder(bus: InProcessBus) -> list[Event]:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    return seen


async def open_bundle(journey: Journey, hall_queue: QueueService, hall: JourneyHall) -> CaseView:
    ticket = await served_ticket(hall_queue, hall.small.window_1, 'SVC-A', id_number=LOCAL_CITIZEN, phone='13812345678')
    return await journey.cases.open_case(ticket.ticket.id or 0, actor='w01')


async def approve(journey: Journey, view: CaseView, name: str, hall: JourneyHall, **kwargs: object) -> CaseView:
    node = next(n for n in view.nodes if n.name == name and n.status == ACTIVE)
    return await journey.cases.decide(
        node.id or 0, approve=True, actor='reviewer', department_id=node.department_id, **kwargs
    )


async def test_a_bundle_runs_five_departments_in_parallel_then_concludes_certifies_and_waits_for_pickup(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, bus: InProcessBus, db: Database
) -> None:
    events = recorder(bus)
    view = await open_bundle(journey, hall_queue, journey_hall)
    assert view.case.bundle == 'SVC-A' and view.case.status == CASE_OPEN
    assert status_of(view, '受理') == DONE and status_of(view, '材料审核') == ACTIVE
    assert all(node.status == PENDING for node in nodes_named(view, *PARALLEL))
    view = await approve(journey, view, '材料审核', journey_hall)

    parallel = nodes_named(view, *PARALLEL)
    assert [node.status for node in parallel] == [ACTIVE] * 5
    assert len({node.department_id for node in parallel}) == 5
    assert all(node.due_at == journey.cases.clock() + dt.timedelta(hours=4) for node in parallel)
    for name in PARALLEL[:4]:
        view = await approve(journey, view, name, journey_hall)
        assert status_of(view, '办结') == PENDING, 'a stage starts only when every node before it is approved'
    view = await approve(journey, view, PARALLEL[4], journey_hall)

    assert status_of(view, '办结') == DONE and status_of(view, '电子营业执照签发') == DONE
    assert status_of(view, '领取执照和公章') == ACTIVE and view.case.status == CASE_OPEN
    [certificate] = view.certificates
    assert certificate.kind == '电子营业执照' and certificate.audit_entry_id
    view = await approve(journey, view, '领取执照和公章', journey_hall)
    assert view.case.status == CASE_COMPLETED and view.case.completed_at is not None

    await bus.drain()
    steps = [e for e in events if isinstance(e, CaseStepChanged)]
    assert {(e.name, e.status) for e in steps} >= {(name, APPROVED) for name in PARALLEL}
    assert steps[-1].node_id is None and steps[-1].case_status == CASE_COMPLETED
    async with db.read_session() as s:
        notices = list((await s.execute(select(Notification).where(Notification.case_id == view.case.id))).scalars())
    texts = [n.text for n in notices if n.channel == 'push']
    assert any('已受理' in text for text in texts) and any('已办结' in text for text in texts)
    assert any(n.kind == 'pickup_ready' for n in notices)
    assert {n.channel for n in notices} == {'push', 'sms'}  # the citizen left a phone number


async def test_five_reviewers_approving_at_the_same_moment_start_the_next_stage_exactly_once(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    view = await approve(journey, await open_bundle(journey, hall_queue, journey_hall), '材料审核', journey_hall)
    parallel = nodes_named(view, *PARALLEL)
    await asyncio.gather(
        *(
            journey.cases.decide(node.id or 0, approve=True, actor=f'rv{n}', department_id=node.department_id)
            for n, node in enumerate(parallel)
        )
    )
    view = await journey.cases.view(view.id)
    assert [node.status for node in nodes_named(view, *PARALLEL)] == [APPROVED] * 5
    assert [node.status for node in nodes_named(view, '办结')] == [DONE]
    assert len(view.certificates) == 1, 'the certificate stage ran once'
    async with db.read_session() as s:
        issued = (await s.execute(select(AuditEntry).where(AuditEntry.action == audit.CERTIFICATE_ISSUED))).all()
    assert len(issued) == 1


async def test_a_return_sends_the_case_back_and_only_the_returned_node_runs_again(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    view = await approve(journey, await open_bundle(journey, hall_queue, journey_hall), '材料审核', journey_hall)
    tax = nodes_named(view, '税务登记')[0]
    with pytest.raises(Invalid):
        await journey.cases.decide(tax.id or 0, approve=False, actor='rv', department_id=tax.department_id)
    view = await journey.cases.decide(
        tax.id or 0, approve=False, actor='rv_tax', department_id=tax.department_id, note='请补充财务负责人身份证'
    )
    assert view.case.status == CASE_RETURNED and status_of(view, '税务登记') == RETURNED
    assert nodes_named(view, '税务登记')[0].note == '请补充财务负责人身份证'
    for name in ('营业执照核发', '公章刻制备案', '社保登记', '公积金登记'):
        view = await approve(journey, view, name, journey_hall)
    assert status_of(view, '办结') == PENDING, 'a returned node holds its stage'
    with pytest.raises(Conflict):
        await journey.cases.decide(tax.id or 0, approve=True, actor='rv_tax', department_id=tax.department_id)

    view = await journey.cases.resubmit(view.case.id or 0, actor='w01', note='已补交')
    taxes = nodes_named(view, '税务登记')
    assert [n.status for n in taxes] == [RETURNED, ACTIVE] and view.case.status == CASE_OPEN
    assert status_of(view, '营业执照核发') == APPROVED, 'approvals already given stand'
    view = await approve(journey, view, '税务登记', journey_hall)
    assert status_of(view, '办结') == DONE


async def test_a_reviewer_decides_only_for_their_department_and_only_pending_nodes(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    view = await open_bundle(journey, hall_queue, journey_hall)
    review = nodes_named(view, '材料审核')[0]
    with pytest.raises(Forbidden):
        await journey.cases.decide(
            review.id or 0, approve=True, actor='rv_tax', department_id=journey_hall.departments['TAX']
        )
    pending = await journey.cases.pending_for(journey_hall.departments['SAMR'])
    assert [p.node.id for p in pending] == [review.id]
    assert await journey.cases.pending_for(journey_hall.departments['TAX']) == []
    await journey.cases.decide(review.id or 0, approve=True, actor='boss', department_id=None)  # a manager: any
    with pytest.raises(Conflict):
        await journey.cases.decide(review.id or 0, approve=True, actor='boss', department_id=None)
    assert [p.node.name for p in await journey.cases.pending_for(journey_hall.departments['TAX'])] == ['税务登记']


async def test_opening_is_idempotent_and_needs_a_ticket_being_served(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    waiting = await hall_queue.take_ticket(journeyhall.TicketCreate(service_code='SVC-C'), caller=DESK)
    with pytest.raises(Conflict):
        await journey.cases.open_case(waiting.ticket.id or 0, actor='w04')
    first = await open_bundle(journey, hall_queue, journey_hall)
    again = await journey.cases.open_case(first.case.ticket_id or 0, actor='w01')
    assert again.case.id == first.case.id and len(again.nodes) == len(first.nodes)


async def test_a_service_without_a_workflow_gets_accept_approve_conclude_within_its_sla_days(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    assert [(n.kind, n.status) for n in view.nodes] == [('accept', DONE), ('approve', ACTIVE), ('conclude', PENDING)]
    # Wednesday 25 November + 5 working days = Wednesday 2 December, office close (17:00 = 09:00 UTC)
    assert view.nodes[1].due_at == dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
    assert view.case.due_at == view.nodes[1].due_at


# ---- 秒批 and 零材料 ------------------------------------------------------------------------------


async def test_instant_approval_fires_when_department_data_confirms_and_records_the_rule(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=LOCAL_CITIZEN)
    await grant_department_data(journey, ticket.ticket.citizen_id or 0, 'SVC-B')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w02', answers={'employment': 'flexible'})

    node = nodes_named(view, '参保审核')[0]
    assert node.status == APPROVED and node.rule == INSTANT_RULE and node.actor == 'system'
    assert '秒批' in node.note
    assert view.case.status == CASE_COMPLETED, '秒批 and 办结 happen while the citizen is still at the window'
    materials = {m.name: (m.status, m.source) for m in view.materials}
    assert materials['本人身份证'] == ('satisfied', 'identity'), '零材料: the ID card is not asked for'
    assert materials['灵活就业申请表'] == ('required', '')
    assert materials['户籍信息核验'] == ('verified', 'household'), 'what the rule checked is shown'
    assert '单位登记表' not in materials
    assert not view.consent_missing


@pytest.mark.parametrize(
    ('id_number', 'answers', 'consent'),
    [
        (LOCAL_CITIZEN, {'employment': 'flexible'}, False),  # no consent: nothing is fetched
        (LOCAL_CITIZEN, {'employment': 'employee'}, True),  # an answer the rule does not accept
        (OUTSIDER, {'employment': 'flexible'}, True),  # household not local
    ],
)
async def test_instant_approval_does_not_fire_unless_every_condition_holds(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    id_number: str,
    answers: dict[str, str],
    consent: bool,
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=id_number)
    if consent:
        await grant_department_data(journey, ticket.ticket.citizen_id or 0, 'SVC-B')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w02', answers=answers)
    node = nodes_named(view, '参保审核')[0]
    assert node.status == ACTIVE and node.rule == ''
    assert view.consent_missing is not consent
    id_card = next(m for m in view.materials if m.name == '本人身份证')
    assert (id_card.status, id_card.source) == (('satisfied', 'identity') if consent else ('required', ''))


async def test_a_once_consent_is_used_up_by_the_case_that_used_it(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    ticket = await served_ticket(hall_queue, journey_hall.small.window_2, 'SVC-B', id_number=LOCAL_CITIZEN)
    citizen = ticket.ticket.citizen_id or 0
    consent = await journey.consent.grant(
        citizen,
        journeyhall.ConsentPurpose.DEPARTMENT_DATA,
        journeyhall.ConsentScope.ONCE,
        text_version=journeyhall.DEPARTMENT_DATA_TEXT_VERSION,
        ticket_id=ticket.ticket.id,
    )
    await journey.cases.open_case(ticket.ticket.id or 0, actor='w02', answers={'employment': 'flexible'})
    [listed] = [c for c in await journey.consent.list_for(citizen) if c.id == consent.id]
    assert listed.revoked_at is None
    with pytest.raises(Forbidden):
        await journey.consent.require(citizen, journeyhall.ConsentPurpose.DEPARTMENT_DATA, ticket_id=ticket.ticket.id)


# ---- e-certificates --------------------------------------------------------------------------


async def test_the_certificate_hash_is_in_the_audit_chain(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, db: Database
) -> None:
    view = await approve(journey, await open_bundle(journey, hall_queue, journey_hall), '材料审核', journey_hall)
    for name in PARALLEL:
        view = await approve(journey, view, name, journey_hall)
    [certificate] = view.certificates
    async with db.read_session() as s:
        entry = await s.get(AuditEntry, certificate.audit_entry_id)
    assert entry is not None and entry.action == audit.CERTIFICATE_ISSUED
    assert entry.detail['hash'] == certificate.content_hash and entry.detail['number'] == certificate.number
    assert (await audit.verify(db)).ok
    assert certificate.holder_masked == '' or '*' in certificate.holder_masked


# ---- SLA -------------------------------------------------------------------------------------


async def test_the_sla_sweep_warns_once_when_at_risk_and_once_when_overdue(
    journey: Journey,
    hall_queue: QueueService,
    journey_hall: JourneyHall,
    bus: InProcessBus,
    clock: FakeClock,
    db: Database,
) -> None:
    view = await approve(journey, await open_bundle(journey, hall_queue, journey_hall), '材料审核', journey_hall)
    view = await approve(journey, view, '营业执照核发', journey_hall)  # done: never warned
    events = recorder(bus)
    assert await journey.cases.sla_sweep() == []

    clock.advance(3 * 60)  # 13:00: 60 of 240 minutes left (25%): not yet
    assert await journey.cases.sla_sweep() == []
    clock.advance(20)  # 13:20: 40 of 240 minutes left
    at_risk = await journey.cases.sla_sweep()
    assert sorted(e.node for e in at_risk) == sorted(PARALLEL[1:])
    assert {e.department_id for e in at_risk} == {journey_hall.departments[c] for c in ('PSB', 'TAX', 'HRSS', 'HPF')}
    assert not any(e.overdue for e in at_risk)
    assert await journey.cases.sla_sweep() == [], 'a warning is given once'

    view = await approve(journey, view, '税务登记', journey_hall)
    clock.advance(45)  # 14:05: past the 14:00 deadline
    overdue = await journey.cases.sla_sweep()
    assert sorted(e.node for e in overdue) == sorted(['公章刻制备案', '社保登记', '公积金登记'])
    assert all(e.overdue and e.due_at == dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC) for e in overdue)
    assert await journey.cases.sla_sweep() == []
    await bus.drain()
    assert len([e for e in events if isinstance(e, SlaAtRisk)]) == 7
    async with db.read_session() as s:
        rows = (await s.execute(select(Notification).where(Notification.kind == 'sla_at_risk'))).scalars().all()
    assert len(rows) == 7 and all(row.channel == 'push' for row in rows)


async def test_the_sla_clock_stops_over_national_day(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    clock.now = dt.datetime(2026, 9, 30, 7, 0, tzinfo=dt.UTC)  # 15:00 on the eve of the Golden Week
    view = await approve(journey, await open_bundle(journey, hall_queue, journey_hall), '材料审核', journey_hall)
    node = nodes_named(view, '公章刻制备案')[0]
    assert node.due_at == dt.datetime(2026, 10, 8, 3, 0, tzinfo=dt.UTC)  # 2 hours on the 30th, 2 on the 8th: 11:00
    clock.now = dt.datetime(2026, 10, 7, 12, 0, tzinfo=dt.UTC)
    assert await journey.cases.sla_sweep() == [], 'holidays do not eat into the SLA'
    clock.now = dt.datetime(2026, 10, 8, 2, 40, tzinfo=dt.UTC)  # 10:40 on the 8th: 20 minutes left
    assert {e.node for e in await journey.cases.sla_sweep()} == set(PARALLEL)


async def test_pending_nodes_are_listed_most_urgent_first_with_their_level(
    journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall, clock: FakeClock
) -> None:
    first = await open_bundle(journey, hall_queue, journey_hall)
    await journey.cases.pending_for(None)
    clock.advance(100)
    await hall_queue.complete(journey_hall.small.window_1, caller=DESK)
    second = await open_bundle(journey, hall_queue, journey_hall)
    clock.advance(15)  # the first review (due 12:00) has 5 of 120 minutes left
    pending = await journey.cases.pending_for(journey_hall.departments['SAMR'])
    assert [p.case.id for p in pending] == [first.case.id, second.case.id]
    assert [p.level for p in pending] == ['at_risk', 'ok']
    rows = await journey.cases.pending_for(None)
    assert {p.case.id for p in rows} == {first.case.id, second.case.id}


# ---- the default seed's workflows and department data ---------------------------------------


def test_the_seeded_business_start_up_runs_at_least_five_departments_in_parallel() -> None:
    services = {service.code: service for service in read_seed('default').services}
    bundle = services['BIZ-OPEN'].workflow
    stages = Counter(node.stage for node in bundle if node.kind == 'approve')
    widest = max(stages, key=lambda stage: stages[stage])
    assert len({node.department for node in bundle if node.stage == widest}) >= 5
    assert [node.kind for node in bundle if node.stage > widest] == ['conclude', 'certify', 'pickup']
    instant = [node.auto for node in services['SI-ENROLL'].workflow if node.auto]
    assert instant and set(instant[0].sources) == {'identity', 'household'}
    assert any(material.source == 'identity' for material in services['SI-ENROLL'].materials)


def test_a_workflow_with_a_gap_or_an_unknown_department_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match='without gaps'):
        parse_workflow(
            [{'stage': 0, 'kind': 'accept', 'name': '受理'}, {'stage': 2, 'kind': 'conclude', 'name': '办结'}]
        )
    with pytest.raises(ValueError, match='秒批'):
        parse_workflow([{'stage': 0, 'kind': 'accept', 'name': '受理', 'auto': {'rule': 'r', 'description': 'd'}}])
    root = tmp_path / 'seeds'
    shutil.copytree(SEED_ROOT / 'default', root / 'default')
    path = root / 'default' / 'services.yaml'
    path.write_text(
        path.read_text(encoding='utf-8').replace('department: HPF, sla_hours: 4', 'department: BANK, sla_hours: 4')
    )
    with pytest.raises(SeedError, match="BIZ-OPEN: workflow node 住房公积金缴存登记: department 'BANK'"):
        read_seed('default', seed_root=root)


async def test_seeded_department_records_are_encrypted_and_load_once(sqlite_db: Database, cipher: FieldCipher) -> None:
    secret = b'seed-secret-for-department-records-0123456789'
    first = await load_department_records(sqlite_db, seed_name='default', secret=secret)
    again = await load_department_records(sqlite_db, seed_name='default', secret=secret)
    assert first['created'] >= 12 and not again
    seeded = FieldCipher({'k1': secret}, 'k1')
    async with sqlite_db.read_session() as s:
        rows = list((await s.execute(select(DepartmentRecord))).scalars())
    assert all('王芳' not in row.data_enc and '110108' not in row.id_number_hash for row in rows)
    household = next(
        r for r in rows if r.source == 'household' and r.id_number_hash == seeded.lookup('110108197505122024')
    )
    assert unseal(seeded, 'household', household.data_enc)['local'] is True
