"""The workflow editor (可视化流程引擎): admins read a service's workflow as stages and save a new one.

A saved workflow is what the next case opened for the service runs: it is checked here against everything
a case needs (the workflow rules of `workflow.check_workflow`, known departments, 秒批 rules naming real
sources and kiosk answers, a deadline on every step people work on), then stored on the service and as a
configuration version in one transaction (`config_versions.save_version` audits it and announces
`HallConfigChanged`). Cases already open keep the workflow they started with (`Case.workflow`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models.config_version import ConfigVersion
from app.models.hall import Department, ServiceItem
from app.models.people import Role
from app.services.config_versions import save_version
from app.services.errors import Conflict, Invalid, NotFound
from app.services.principal import Principal
from app.services.uow import Service
from app.services.workflow import (
    CONFIRMED_KINDS,
    DECIDED_KINDS,
    NodeKind,
    NodeSpec,
    SourceName,
    check_workflow,
    default_workflow,
)

KIND = 'workflow'  # the configuration kind its versions are saved under
STEP_KINDS: tuple[str, ...] = get_args(NodeKind)
SOURCES: tuple[str, ...] = get_args(SourceName)
TIMED_KINDS = DECIDED_KINDS + CONFIRMED_KINDS  # people work on these, so each has a deadline
MAX_STAGES = 21  # NodeSpec.stage runs 0..20
MAX_NODES_PER_STAGE = 12


@dataclass(frozen=True)
class Choice:
    code: str
    name: str


@dataclass(frozen=True)
class Question:
    """A kiosk question of the service: a 秒批 rule may ask for one of its options."""

    code: str
    text: str
    options: tuple[Choice, ...]


@dataclass(frozen=True)
class EditableWorkflow:
    """A service's workflow as the editor shows it: stages in order, each a list of node dicts (no `stage`)."""

    service: Choice
    department: Choice  # the service's own department (nodes without one are its)
    stages: list[list[dict[str, Any]]]
    version: int  # the latest saved version, 0 when the workflow was never edited
    questions: tuple[Question, ...]


@dataclass(frozen=True)
class SavedVersion:
    version: int
    actor: str
    created_at: dt.datetime
    steps: int


class WorkflowEditorService(Service):
    """Admins only: read, check, save and restore service workflows."""

    async def services(self, caller: Principal) -> list[Choice]:
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            rows = (await s.execute(select(ServiceItem).order_by(ServiceItem.code))).scalars()
            return [Choice(row.code, row.name) for row in rows]

    async def departments(self, caller: Principal) -> list[Choice]:
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            rows = (await s.execute(select(Department).order_by(Department.code))).scalars()
            return [Choice(row.code, row.name) for row in rows]

    async def workflow(self, caller: Principal, service_code: str) -> EditableWorkflow:
        """The service's workflow as stages; a service without its own shows the default one cases run."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            service = await self._service(s, service_code)
            department = await s.get(Department, service.department_id)
            version = await self._latest(s, service.code)
        specs = (
            [NodeSpec.model_validate(node) for node in service.workflow]
            if service.workflow
            else default_workflow(service.name, service.sla_days)
        )
        stages: list[list[dict[str, Any]]] = [[] for _ in range(max((spec.stage for spec in specs), default=-1) + 1)]
        for spec in specs:
            stages[spec.stage].append(spec.model_dump(exclude_none=True, exclude={'stage'}))
        return EditableWorkflow(
            service=Choice(service.code, service.name),
            department=Choice(department.code, department.name) if department else Choice('', ''),
            stages=stages,
            version=version,
            questions=_questions(service),
        )

    async def check(self, caller: Principal, service_code: str, stages: Sequence[Sequence[Mapping[str, Any]]]) -> None:
        """Raise Invalid (in plain words) when `stages` could not run as a case; changes nothing."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            service = await self._service(s, service_code)
            await self._checked(s, service, stages)

    async def save(
        self,
        caller: Principal,
        service_code: str,
        stages: Sequence[Sequence[Mapping[str, Any]]],
        *,
        base_version: int,
    ) -> int:
        """Check and store `stages` as the service's workflow and its next version; returns the version.

        `base_version` is the version the editor started from: a save over someone else's newer one is a
        Conflict, so no admin overwrites a change they have not seen.
        """
        caller.require(Role.ADMIN)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            service = await self._service(s, service_code, lock=True)
            if await self._latest(s, service.code) != base_version:
                raise Conflict('workflow_changed')
            nodes = await self._checked(s, service, stages)
            service.workflow = nodes
            s.add(service)
            row = await save_version(
                uow,
                caller,
                hall_id=self.hall_id,
                kind=KIND,
                subject=service.code,
                data={'service': service.code, 'workflow': nodes},
                now=now,
            )
            return row.version

    async def versions(self, caller: Principal, service_code: str) -> list[SavedVersion]:
        """The service's saved workflows, newest first."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            service = await self._service(s, service_code)
            rows = (
                await s.execute(
                    select(ConfigVersion)
                    .where(
                        ConfigVersion.hall_id == self.hall_id,
                        ConfigVersion.kind == KIND,
                        ConfigVersion.subject == service.code,
                    )
                    .order_by(ConfigVersion.version.desc())
                    .limit(100)
                )
            ).scalars()
            return [
                SavedVersion(row.version, row.actor, row.created_at, len(row.data.get('workflow', []))) for row in rows
            ]

    async def restore(self, caller: Principal, service_code: str, version: int, *, base_version: int) -> int:
        """Save an earlier version again as the newest one (checked again: departments may have gone since)."""
        caller.require(Role.ADMIN)
        async with self.db.read_session() as s:
            service = await self._service(s, service_code)
            row = (
                await s.execute(
                    select(ConfigVersion).where(
                        ConfigVersion.hall_id == self.hall_id,
                        ConfigVersion.kind == KIND,
                        ConfigVersion.subject == service.code,
                        ConfigVersion.version == version,
                    )
                )
            ).scalar_one_or_none()
        if row is None:
            raise NotFound('unknown_workflow_version', version=version)
        stages: list[list[dict[str, Any]]] = []
        for node in row.data.get('workflow', []):
            stage = int(node.get('stage', 0))
            stages.extend([] for _ in range(stage + 1 - len(stages)))
            stages[stage].append({key: value for key, value in node.items() if key != 'stage'})
        return await self.save(caller, service_code, stages, base_version=base_version)

    # ---- helpers -------------------------------------------------------------------------------------

    @staticmethod
    async def _service(s: AsyncSession, code: str, *, lock: bool = False) -> ServiceItem:
        query = select(ServiceItem).where(ServiceItem.code == code)
        if lock:
            query = query.with_for_update()
        service = (await s.execute(query)).scalar_one_or_none()
        if service is None:
            raise NotFound('unknown_service', service_code=code)
        return service

    async def _latest(self, s: AsyncSession, code: str) -> int:
        latest = (
            await s.execute(
                select(func.max(ConfigVersion.version)).where(
                    ConfigVersion.hall_id == self.hall_id, ConfigVersion.kind == KIND, ConfigVersion.subject == code
                )
            )
        ).scalar_one_or_none()
        return latest or 0

    async def _checked(
        self, s: AsyncSession, service: ServiceItem, stages: Sequence[Sequence[Mapping[str, Any]]]
    ) -> list[dict[str, Any]]:
        """The nodes to store (stage numbers from the order of `stages`), or Invalid naming the first fault."""
        departments = {code for code in (await s.execute(select(Department.code))).scalars()}
        return validate(stages, departments=departments, questions=_questions(service))


def _questions(service: ServiceItem) -> tuple[Question, ...]:
    return tuple(
        Question(
            str(q.get('code', '')),
            str(q.get('text', '')),
            tuple(Choice(str(o.get('value', '')), str(o.get('label', ''))) for o in q.get('options', [])),
        )
        for q in service.questions or []
    )


def validate(
    stages: Sequence[Sequence[Mapping[str, Any]]], *, departments: set[str], questions: Sequence[Question]
) -> list[dict[str, Any]]:
    """Every rule a case relies on, each with its own plain-words error; returns the nodes as stored."""
    if not stages:
        raise Invalid('invalid_workflow', text='invalid_workflow.empty')
    if len(stages) > MAX_STAGES:
        raise Invalid('invalid_workflow', text='invalid_workflow.too_many_stages', limit=MAX_STAGES)
    options = {q.code: {o.code for o in q.options} for q in questions}
    nodes: list[dict[str, Any]] = []
    for index, stage in enumerate(stages):
        step = index + 1
        if not stage:
            raise Invalid('invalid_workflow', text='invalid_workflow.empty_stage', step=step)
        if len(stage) > MAX_NODES_PER_STAGE:
            raise Invalid(
                'invalid_workflow', text='invalid_workflow.stage_too_big', step=step, limit=MAX_NODES_PER_STAGE
            )
        names: set[str] = set()
        for raw in stage:
            if not isinstance(raw, Mapping):
                raise Invalid('invalid_workflow', text='invalid_workflow.malformed', step=step)
            node = {key: value for key, value in raw.items() if value not in (None, '') and key != 'stage'}
            name = str(node.get('name', '')).strip()
            if not name:
                raise Invalid('invalid_workflow', text='invalid_workflow.name_required', step=step)
            kind = node.get('kind')
            if kind not in STEP_KINDS:
                raise Invalid('invalid_workflow', text='invalid_workflow.unknown_kind', step=step, name=name)
            if name in names:
                raise Invalid('invalid_workflow', text='invalid_workflow.duplicate_name', step=step, name=name)
            names.add(name)
            if (index == 0) != (kind == 'accept'):
                raise Invalid('invalid_workflow', text='invalid_workflow.accept_first', name=name)
            if index == 0 and len(stage) > 1:
                raise Invalid('invalid_workflow', text='invalid_workflow.accept_alone')
            department = node.get('department')
            if department is not None and department not in departments:
                raise Invalid('invalid_workflow', text='invalid_workflow.unknown_department', name=name)
            _check_deadline(node, kind, name)
            if kind == 'certify' and not str(node.get('certificate', '')).strip():
                raise Invalid('invalid_workflow', text='invalid_workflow.certificate_required', name=name)
            if kind != 'certify':
                node.pop('certificate', None)
            if kind not in TIMED_KINDS:
                node.pop('sla_hours', None)
                node.pop('sla_days', None)
            auto = node.get('auto')
            if auto is not None:
                _check_rule(auto, kind, name, options)
            try:
                spec = NodeSpec.model_validate({**node, 'stage': index})
            except ValidationError:
                raise Invalid('invalid_workflow', text='invalid_workflow.node_invalid', name=name) from None
            nodes.append(spec.model_dump(exclude_none=True))
    try:
        check_workflow([NodeSpec.model_validate(node) for node in nodes])
    except ValueError:
        raise Invalid('invalid_workflow', text='invalid_workflow.order') from None
    return nodes


def _check_deadline(node: Mapping[str, Any], kind: str, name: str) -> None:
    """A step people work on has exactly one deadline, more than zero: working hours or working days."""
    if kind not in TIMED_KINDS:
        return
    hours, days = node.get('sla_hours'), node.get('sla_days')
    if hours is not None and days is not None:
        raise Invalid('invalid_workflow', text='invalid_workflow.two_deadlines', name=name)
    given = hours if hours is not None else days
    if given is None:
        raise Invalid('invalid_workflow', text='invalid_workflow.deadline_required', name=name)
    if isinstance(given, bool) or not isinstance(given, int | float) or given <= 0:
        raise Invalid('invalid_workflow', text='invalid_workflow.deadline_positive', name=name)
    if days is not None and (not float(days).is_integer() or days > 365):
        raise Invalid('invalid_workflow', text='invalid_workflow.deadline_days', name=name)
    if hours is not None and hours > 2000:
        raise Invalid('invalid_workflow', text='invalid_workflow.deadline_hours', name=name)


def _check_rule(auto: Any, kind: str, name: str, options: Mapping[str, set[str]]) -> None:
    """A 秒批 rule sits on a review or approve step and asks only for real sources and real kiosk answers."""
    if kind not in DECIDED_KINDS:
        raise Invalid('invalid_workflow', text='invalid_workflow.rule_kind', name=name)
    if not isinstance(auto, Mapping):
        raise Invalid('invalid_workflow', text='invalid_workflow.malformed_rule', name=name)
    if not str(auto.get('rule', '')).strip() or not str(auto.get('description', '')).strip():
        raise Invalid('invalid_workflow', text='invalid_workflow.rule_named', name=name)
    sources = auto.get('sources', [])
    if not isinstance(sources, list) or any(source not in SOURCES for source in sources):
        raise Invalid('invalid_workflow', text='invalid_workflow.unknown_source', name=name)
    answers = auto.get('answers', {})
    if not isinstance(answers, Mapping) or any(
        str(value) not in options.get(str(code), set()) for code, value in answers.items()
    ):
        raise Invalid('invalid_workflow', text='invalid_workflow.unknown_answer', name=name)
    if not sources and not answers:
        raise Invalid('invalid_workflow', text='invalid_workflow.rule_empty', name=name)
    facts = auto.get('facts', {})
    if not isinstance(facts, Mapping) or any(str(key).partition('.')[0] not in sources for key in facts):
        raise Invalid('invalid_workflow', text='invalid_workflow.fact_source', name=name)
