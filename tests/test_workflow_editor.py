"""The workflow editor's service: admins save checked workflows as audited versions; the next case runs them."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import Event, HallConfigChanged
from app.models import ServiceItem
from app.models.config_version import ConfigVersion
from app.models.people import Role
from app.models.security import AuditEntry
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.journey import Journey
from app.services.principal import Kind, Principal
from app.services.queue import QueueService
from app.services.workflow import ACTIVE, APPROVED, CASE_COMPLETED, CASE_OPEN, DONE, PENDING
from app.services.workflow_editor import WorkflowEditorService
from tests import journeyhall
from tests.journeyhall import INSTANT, PARALLEL, JourneyHall, served_ticket

journey_hall = journeyhall.journey_hall_fixture
journey_settings = journeyhall.journey_settings_fixture
journey = journeyhall.journey_fixture
hall_queue = journeyhall.hall_queue_fixture

ADMIN = Principal(Kind.STAFF, 'adm01', Role.ADMIN, user_id=1)
MANAGER = Principal(Kind.STAFF, 'boss', Role.MANAGER, user_id=2)

ACCEPT = {'kind': 'accept', 'name': '受理'}
PARALLEL_STAGE = [
    {'kind': 'approve', 'name': '治安审批', 'department': 'PSB', 'sla_hours': 2},
    {'kind': 'approve', 'name': '税务审批', 'department': 'TAX', 'sla_days': 1},
]
CONCLUDE = {'kind': 'conclude', 'name': '办结'}
NEW_C = [[ACCEPT], PARALLEL_STAGE, [CONCLUDE]]


@pytest.fixture
def editor(journey: Journey) -> WorkflowEditorService:
    return WorkflowEditorService(journey.cases.deps)


def stages_with(change: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """NEW_C with the first parallel approval changed."""
    stages = copy.deepcopy(NEW_C)
    stages[1][0].update(change)
    return stages


async def test_an_admin_reads_a_workflow_as_stages_with_parallel_departments_side_by_side(
    editor: WorkflowEditorService, journey_hall: JourneyHall
) -> None:
    bundle = await editor.workflow(ADMIN, 'SVC-A')
    assert [len(stage) for stage in bundle.stages] == [1, 1, 5, 1, 1, 1]
    assert [node['name'] for node in bundle.stages[2]] == list(PARALLEL)
    assert all('stage' not in node for stage in bundle.stages for node in stage)
    assert bundle.version == 0 and bundle.department.code == 'SAMR'
    default = await editor.workflow(ADMIN, 'SVC-C')
    assert [[node['kind'] for node in stage] for stage in default.stages] == [['accept'], ['approve'], ['conclude']]


@pytest.mark.parametrize(
    ('stages', 'text'),
    [
        ([], 'invalid_workflow.empty'),
        ([[ACCEPT], [], [CONCLUDE]], 'invalid_workflow.empty_stage'),
        ([PARALLEL_STAGE, [ACCEPT], [CONCLUDE]], 'invalid_workflow.accept_first'),
        ([[ACCEPT, CONCLUDE], PARALLEL_STAGE], 'invalid_workflow.accept_alone'),
        (stages_with({'name': '  '}), 'invalid_workflow.name_required'),
        (stages_with({'name': '税务审批'}), 'invalid_workflow.duplicate_name'),
        (stages_with({'kind': 'delete_everything'}), 'invalid_workflow.unknown_kind'),
        (stages_with({'department': 'NOPE'}), 'invalid_workflow.unknown_department'),
        (stages_with({'sla_hours': None}), 'invalid_workflow.deadline_required'),
        (stages_with({'sla_hours': 0}), 'invalid_workflow.deadline_positive'),
        (stages_with({'sla_hours': -3}), 'invalid_workflow.deadline_positive'),
        (stages_with({'sla_hours': '4'}), 'invalid_workflow.deadline_positive'),
        (stages_with({'sla_days': 2}), 'invalid_workflow.two_deadlines'),
        (stages_with({'sla_hours': None, 'sla_days': 1.5}), 'invalid_workflow.deadline_days'),
        (
            stages_with({'auto': {'rule': 'r', 'description': 'd', 'sources': ['bank']}}),
            'invalid_workflow.unknown_source',
        ),
        (
            stages_with({'auto': {'rule': 'r', 'description': 'd', 'answers': {'employment': 'rich'}}}),
            'invalid_workflow.unknown_answer',
        ),
        (stages_with({'auto': {'rule': 'r', 'description': 'd'}}), 'invalid_workflow.rule_empty'),
        (
            stages_with({'auto': {'rule': '', 'description': 'd', 'sources': ['identity']}}),
            'invalid_workflow.rule_named',
        ),
        (
            stages_with(
                {'auto': {'rule': 'r', 'description': 'd', 'sources': ['identity'], 'facts': {'household.local': True}}}
            ),
            'invalid_workflow.fact_source',
        ),
        (
            stages_with({'kind': 'pickup', 'auto': {'rule': 'r', 'description': 'd', 'sources': ['identity']}}),
            'invalid_workflow.rule_kind',
        ),
        ([[ACCEPT], [{'kind': 'certify', 'name': '制证'}]], 'invalid_workflow.certificate_required'),
        (stages_with({'name': 'x' * 101}), 'invalid_workflow.node_invalid'),
        ([[ACCEPT], ['approve']], 'invalid_workflow.malformed'),
    ],
)
async def test_an_invalid_workflow_is_refused_in_plain_words_and_nothing_is_saved(
    editor: WorkflowEditorService, journey_hall: JourneyHall, db: Database, stages: Any, text: str
) -> None:
    async with db.read_session() as s:
        before = (await s.execute(select(ServiceItem.workflow).where(ServiceItem.code == 'SVC-B'))).scalar_one()
    with pytest.raises(Invalid) as refused:
        await editor.check(ADMIN, 'SVC-B', stages)
    assert refused.value.key == text and '/' in refused.value.message  # Chinese, then English
    with pytest.raises(Invalid) as again:
        await editor.save(ADMIN, 'SVC-B', stages, base_version=0)
    assert again.value.key == text
    async with db.read_session() as s:
        after = (await s.execute(select(ServiceItem.workflow).where(ServiceItem.code == 'SVC-B'))).scalar_one()
        assert (await s.execute(select(ConfigVersion))).first() is None
        assert not [a for a in (await s.execute(select(AuditEntry))).scalars() if a.action == 'config.workflow']
    assert after == before == INSTANT


async def test_only_admins_read_save_or_restore_workflows(
    editor: WorkflowEditorService, journey_hall: JourneyHall
) -> None:
    reviewer = Principal(Kind.STAFF, 'rv_tax', Role.REVIEWER, department_id=journey_hall.departments['TAX'])
    for who in (MANAGER, reviewer, Principal.anonymous('10.0.0.9')):
        with pytest.raises(Forbidden):
            await editor.workflow(who, 'SVC-C')
        with pytest.raises(Forbidden):
            await editor.save(who, 'SVC-C', NEW_C, base_version=0)
        with pytest.raises(Forbidden):
            await editor.restore(who, 'SVC-C', 1, base_version=0)
    assert (await editor.workflow(ADMIN, 'SVC-C')).version == 0


async def test_a_saved_workflow_is_a_version_audited_as_the_admins_act_and_announced(
    editor: WorkflowEditorService, journey_hall: JourneyHall, db: Database, bus: InProcessBus
) -> None:
    seen: list[Event] = []
    bus.subscribe(seen.append)
    assert await editor.save(ADMIN, 'SVC-C', NEW_C, base_version=0) == 1
    async with db.read_session() as s:
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == 'SVC-C'))).scalar_one()
        [version] = (await s.execute(select(ConfigVersion))).scalars()
        audited = [a for a in (await s.execute(select(AuditEntry))).scalars() if a.action == 'config.workflow']
    assert [node['stage'] for node in service.workflow] == [0, 1, 1, 2]
    assert version.kind == 'workflow' and version.subject == 'SVC-C' and version.actor == 'adm01'
    assert version.data == {'service': 'SVC-C', 'workflow': service.workflow}
    assert [(a.actor, a.target, a.detail) for a in audited] == [('adm01', 'SVC-C', {'version': 1})]
    await bus.drain()
    announced = [(e.hall_id, e.kind, e.subject, e.version, e.actor) for e in seen if isinstance(e, HallConfigChanged)]
    assert announced == [(journey_hall.hall_id, 'workflow', 'SVC-C', 1, 'adm01')]
    reread = await editor.workflow(ADMIN, 'SVC-C')
    assert reread.version == 1 and reread.stages == [[ACCEPT], PARALLEL_STAGE, [CONCLUDE]]


async def test_a_save_over_a_version_the_admin_has_not_seen_is_refused(
    editor: WorkflowEditorService, journey_hall: JourneyHall
) -> None:
    await editor.save(ADMIN, 'SVC-C', NEW_C, base_version=0)
    with pytest.raises(Conflict) as refused:
        await editor.save(ADMIN, 'SVC-C', [[ACCEPT], [CONCLUDE]], base_version=0)
    assert refused.value.code == 'workflow_changed'
    assert (await editor.workflow(ADMIN, 'SVC-C')).stages == NEW_C


async def test_restoring_an_earlier_version_saves_it_again_as_the_newest(
    editor: WorkflowEditorService, journey_hall: JourneyHall
) -> None:
    await editor.save(ADMIN, 'SVC-C', NEW_C, base_version=0)
    await editor.save(ADMIN, 'SVC-C', [[ACCEPT], [CONCLUDE]], base_version=1)
    assert await editor.restore(ADMIN, 'SVC-C', 1, base_version=2) == 3
    assert (await editor.workflow(ADMIN, 'SVC-C')).stages == NEW_C
    assert [(v.version, v.steps) for v in await editor.versions(ADMIN, 'SVC-C')] == [(3, 4), (2, 2), (1, 4)]
    with pytest.raises(NotFound):
        await editor.restore(ADMIN, 'SVC-C', 9, base_version=3)


async def test_a_case_opened_after_the_save_runs_the_new_stages_and_one_opened_before_keeps_the_old(
    editor: WorkflowEditorService, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    window = journey_hall.small.window_4
    before_ticket = await served_ticket(hall_queue, window, 'SVC-C', complete=True)
    before = await journey.cases.open_case(before_ticket.ticket.id or 0, actor='w04')
    assert [(n.name, n.status) for n in before.nodes] == [('受理', DONE), ('事项丙审批', ACTIVE), ('办结', PENDING)]

    await editor.save(ADMIN, 'SVC-C', NEW_C, base_version=0)
    after_ticket = await served_ticket(hall_queue, window, 'SVC-C')
    after = await journey.cases.open_case(after_ticket.ticket.id or 0, actor='w04')
    now = journey.cases.clock()
    assert [(n.stage, n.name, n.status) for n in after.nodes] == [
        (0, '受理', DONE),
        (1, '治安审批', ACTIVE),
        (1, '税务审批', ACTIVE),
        (2, '办结', PENDING),
    ]
    departments = journey_hall.departments
    assert [n.department_id for n in after.nodes[1:3]] == [departments['PSB'], departments['TAX']]
    assert after.nodes[1].due_at == now + dt.timedelta(hours=2)

    first = after.nodes[1]
    after = await journey.cases.decide(first.id or 0, approve=True, actor='rv_psb', department_id=first.department_id)
    assert after.case.status == CASE_OPEN, 'the stage waits for its other department'
    second = after.nodes[2]
    after = await journey.cases.decide(second.id or 0, approve=True, actor='rv_tax', department_id=second.department_id)
    assert after.case.status == CASE_COMPLETED

    old = before.nodes[1]
    before = await journey.cases.decide(old.id or 0, approve=True, actor='rv', department_id=old.department_id)
    assert [(n.name, n.status) for n in before.nodes] == [('受理', DONE), ('事项丙审批', APPROVED), ('办结', DONE)]
    assert before.case.status == CASE_COMPLETED


async def test_a_running_case_keeps_the_deadlines_it_opened_with(
    editor: WorkflowEditorService, journey: Journey, hall_queue: QueueService, journey_hall: JourneyHall
) -> None:
    await editor.save(ADMIN, 'SVC-C', [[ACCEPT], [PARALLEL_STAGE[0]], [PARALLEL_STAGE[1]], [CONCLUDE]], base_version=0)
    ticket = await served_ticket(hall_queue, journey_hall.small.window_4, 'SVC-C')
    view = await journey.cases.open_case(ticket.ticket.id or 0, actor='w04')
    slower = {**PARALLEL_STAGE[1], 'sla_days': None, 'sla_hours': 40}
    await editor.save(ADMIN, 'SVC-C', [[ACCEPT], [PARALLEL_STAGE[0]], [slower], [CONCLUDE]], base_version=1)
    node = view.nodes[1]
    view = await journey.cases.decide(node.id or 0, approve=True, actor='rv_psb', department_id=node.department_id)
    tax = view.nodes[2]
    assert tax.status == ACTIVE and tax.started_at is not None and tax.due_at is not None
    assert tax.due_at - tax.started_at < dt.timedelta(hours=40), 'one working day, as when the case opened'
