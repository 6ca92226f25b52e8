"""Cases (办件): a case per application, nodes per the service's workflow, an SLA per node.

Open a case for the ticket being served; stage 0 (受理) is done by the window at once. Each later
stage starts when every node of the one before it is finished: 一件事一次办 bundles run their
department approvals side by side. A reviewer approves or returns a node; a return puts the case
into 退回补正 until the window resubmits it, and only the returned nodes run again. 秒批 rules that
held when the case was opened approve their node the moment it starts, recording the rule.
Conclude and certify nodes are done by the system (certify issues the e-certificate).
Every change writes its notices to the outbox in the same transaction and publishes CaseStepChanged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.bus import Bus
from app.clock import hall_day
from app.events import CaseStepChanged, SlaAtRisk
from app.models.cases import Case, CaseMaterial, CaseNode
from app.models.hall import Department, ServiceItem
from app.models.people import Citizen
from app.models.ticket import Ticket, TicketStatus
from app.security import codes
from app.security.masking import mask_email, mask_id_number, mask_name
from app.services import audit, case_views, certificates, notifications, rating_invites, sla
from app.services.case_email import CONTACT_EMAIL_CONTEXT, clean_email, emailed
from app.services.case_views import MATERIAL_REQUIRED, MATERIAL_SATISFIED, MATERIAL_VERIFIED, CaseView, PendingNode
from app.services.channels import EMAIL
from app.services.department_data import SOURCES, DepartmentData
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.messages import Message, Template, message
from app.services.principal import WINDOW_ROLES, Principal
from app.services.uow import Service, UnitOfWork
from app.services.workdays import close_of_working_days
from app.services.workflow import (
    ACTIVE,
    APPROVED,
    CASE_COMPLETED,
    CASE_OPEN,
    CASE_RETURNED,
    CONFIRMED_KINDS,
    DECIDED_KINDS,
    DONE,
    PENDING,
    RETURNED,
    SYSTEM_KINDS,
    NodeSpec,
    current_stage,
    default_workflow,
    node_due,
    parse_workflow,
    rule_holds,
    stage_finished,
    to_retry,
)
from app.settings import Settings

SERVABLE = (TicketStatus.CALLED, TicketStatus.COMPLETED)
NOTE_LIMIT = 300
CONTACT_EMAIL_SET = 'case_contact_email'


def _matches(condition: Mapping[str, Any] | None, answers: Mapping[str, str]) -> bool:
    return all(answers.get(code) == value for code, value in (condition or {}).items())


def _local(moment: dt.datetime | None, settings: Settings) -> str:
    return moment.astimezone(settings.tz).strftime('%m月%d日 %H:%M') if moment else ''


class CaseService(Service):
    bus: Bus

    def __init__(
        self,
        deps: Deps,
        *,
        department_data: DepartmentData,
        notifier: notifications.NotificationService | None = None,
    ) -> None:
        super().__init__(deps)
        self.department_data = department_data
        self.notifier = notifier

    def _delivered(self) -> None:
        if self.notifier is not None:
            self.notifier.kick()

    # ---- opening ---------------------------------------------------------------------------------

    async def open_case(
        self,
        ticket_id: int | None = None,
        *,
        actor: str,
        answers: Mapping[str, str] | None = None,
        ticket_code: str | None = None,
    ) -> CaseView:
        """Open the case for the ticket being served (idempotent: the ticket's case if it has one).

        The ticket is named by id or by its code. `answers`: the kiosk questions' answers ({question
        code: option value}); they choose the materials and may satisfy a 秒批 rule. With the citizen's
        DEPARTMENT_DATA consent, materials the departments hold are marked satisfied with their source;
        without it `consent_missing` is set on the view.
        """
        now = self.clock()
        answers = {str(key): str(value) for key, value in (answers or {}).items()}
        async with self._transaction() as uow:
            s = uow.session
            ticket = await self._ticket(s, ticket_id, ticket_code)
            if ticket is None or ticket.hall_id != self.hall_id:
                raise NotFound('unknown_ticket')
            ticket_id = ticket.id
            existing = (await s.execute(select(Case).where(Case.ticket_id == ticket_id))).scalars().first()
            if existing is not None:
                case_id, consent_missing = existing.id, False
            else:
                if ticket.status not in SERVABLE:
                    raise Conflict('ticket_not_served')
                case, consent_missing = await self._create(uow, ticket, answers, actor=actor, now=now)
                case_id = case.id
        self._delivered()
        assert case_id is not None
        return await self.view(case_id, consent_missing=consent_missing)

    async def set_contact_email(self, ticket_code: str, email: str, *, caller: Principal) -> str:
        """The window records (or, with '', removes) the business's address for the case of the ticket it serves.

        From then on the case's 补正, 办结 and certificate notices are emailed there too, and its 受理 notice goes
        at once (once per case, whatever the address), so the business sees the address works. A bad address is
        `Invalid('invalid_email')` and changes nothing, and so is an address in a hall that sends no email (no
        SMTP_URL: `Conflict('email_not_configured')`); the address is stored encrypted, audited masked, and
        answered masked ('' when removed).
        """
        caller.require(*WINDOW_ROLES)
        address = clean_email(email)
        if address and not self.settings.smtp_url.get_secret_value():
            raise Conflict('email_not_configured')
        async with self._transaction() as uow:
            s = uow.session
            ticket = await self._ticket(s, None, ticket_code)
            if ticket is None or ticket.hall_id != self.hall_id:
                raise NotFound('unknown_ticket')
            if ticket.window_id is not None:
                caller.require_window(ticket.window_id)
            case = (
                (await s.execute(select(Case).where(Case.ticket_id == ticket.id).with_for_update())).scalars().first()
            )
            if case is None:
                raise Conflict('case_not_opened')
            case.contact_email_enc = self.cipher.encrypt(address, context=CONTACT_EMAIL_CONTEXT) if address else ''
            await audit.record_for(
                s,
                caller,
                action=CONTACT_EMAIL_SET,
                target=f'case:{case.id}',
                detail={'email': mask_email(address)},
                now=self.clock(),
            )
            if address:
                await self._email_acceptance(s, case)
        self._delivered()
        return mask_email(address)

    async def _email_acceptance(self, s: AsyncSession, case: Case) -> None:
        """The 受理 notice, by email only, under the key its push and SMS copies had: never twice for a case."""
        statement = select(CaseNode).where(
            CaseNode.case_id == case.id, CaseNode.kind == 'accept', CaseNode.status == DONE
        )
        accepted = (await s.execute(statement)).scalars().first()
        service = await s.get(ServiceItem, case.service_id)
        if accepted is None or service is None:
            return
        key = f'case:{case.id}:node:{accepted.id}:{DONE}'
        msg = message(Template.CASE_ACCEPTED, service=service.name)
        await self._notify(s, case, key, 'case_step', msg, self.clock(), channels=(EMAIL,))

    @staticmethod
    async def _ticket(s: AsyncSession, ticket_id: int | None, ticket_code: str | None) -> Ticket | None:
        if ticket_id is not None:
            return await s.get(Ticket, ticket_id, with_for_update=True)
        if ticket_code:
            statement = select(Ticket).where(Ticket.code == ticket_code).with_for_update()
            return (await s.execute(statement)).scalar_one_or_none()
        return None

    async def _create(
        self, uow: UnitOfWork, ticket: Ticket, answers: dict[str, str], *, actor: str, now: dt.datetime
    ) -> tuple[Case, bool]:
        s = uow.session
        service = await s.get(ServiceItem, ticket.service_id)
        assert service is not None and service.id is not None
        specs = self.workflow_of(service)
        department_ids = await self._department_ids(s)
        node_departments = {self._department_for(spec, service, department_ids) for spec in specs}
        case = Case(
            hall_id=self.hall_id,
            code=codes.tracking_code(),
            service_id=service.id,
            ticket_id=ticket.id,
            citizen_id=ticket.citizen_id,
            answers=answers,
            created_by=actor[:64],
            created_at=now,
            due_at=close_of_working_days(now, service.sla_days, self.settings.tz),
            bundle=service.code if len(node_departments) >= 2 else None,
            workflow=[spec.model_dump(exclude_none=True) for spec in specs],
        )
        s.add(case)
        await s.flush()
        assert case.id is not None
        materials = [
            CaseMaterial(case_id=case.id, name=str(item['name'])[:100], status=MATERIAL_REQUIRED)
            for item in service.materials
            if _matches(item.get('condition'), answers)
        ]
        wanted = [item.get('source') for item in service.materials if _matches(item.get('condition'), answers)]
        wanted += [source for spec in specs if spec.auto for source in spec.auto.sources]
        confirmed, consent_missing = await self._fetch(s, case, ticket, service, [w for w in wanted if w])
        self._mark_materials(case.id, service, answers, materials, confirmed)
        s.add_all(materials)
        nodes = [
            CaseNode(
                case_id=case.id,
                stage=spec.stage,
                kind=spec.kind,
                name=spec.name,
                department_id=self._department_for(spec, service, department_ids),
                status=PENDING,
                rule=_fired(spec, answers, confirmed),
            )
            for spec in specs
        ]
        s.add_all(nodes)
        await s.flush()
        await self._run(uow, case, service, nodes, actor=actor, now=now)
        return case, consent_missing

    async def _fetch(
        self, s: AsyncSession, case: Case, ticket: Ticket, service: ServiceItem, wanted: list[str]
    ) -> tuple[dict[str, dict[str, Any]], bool]:
        """Department data for the wanted sources; no consent is not an error here, the citizen brings paper."""
        if not wanted or case.citizen_id is None:
            return {}, False
        citizen = await s.get(Citizen, case.citizen_id)
        if citizen is None:
            return {}, False
        try:
            data = await self.department_data.fetch(s, citizen, wanted, service_code=service.code, ticket_id=ticket.id)
        except Forbidden:
            return {}, True
        return data, False

    @staticmethod
    def _mark_materials(
        case_id: int,
        service: ServiceItem,
        answers: Mapping[str, str],
        materials: list[CaseMaterial],
        confirmed: Mapping[str, Any],
    ) -> None:
        """零材料: a listed material whose source confirmed the citizen is satisfied, showing the source."""
        by_name = {material.name: material for material in materials}
        covered: set[str] = set()
        for item in service.materials:
            source = item.get('source')
            material = by_name.get(str(item['name'])[:100])
            if source in confirmed and material is not None and _matches(item.get('condition'), answers):
                material.status, material.source = MATERIAL_SATISFIED, source
                covered.add(source)
        for source in confirmed:
            if source not in covered:
                label = SOURCES[source].label if source in SOURCES else source
                materials.append(
                    CaseMaterial(case_id=case_id, name=f'{label}核验', status=MATERIAL_VERIFIED, source=source)
                )

    def workflow_of(self, service: ServiceItem) -> list[NodeSpec]:
        if service.workflow:
            return parse_workflow(service.workflow)
        return default_workflow(service.name, service.sla_days)

    def workflow_of_case(self, case: Case, service: ServiceItem) -> list[NodeSpec]:
        """The workflow the case opened with, so editing the service's workflow never moves a running case
        (a case older than that copy runs the service's)."""
        if case.workflow:
            return parse_workflow(case.workflow)
        return self.workflow_of(service)

    @staticmethod
    def _department_for(spec: NodeSpec, service: ServiceItem, ids: Mapping[str, int]) -> int:
        if spec.department is None:
            return service.department_id
        if spec.department not in ids:
            raise Invalid('unknown_department', department=spec.department)
        return ids[spec.department]

    @staticmethod
    async def _department_ids(s: AsyncSession) -> dict[str, int]:
        return {d.code: d.id for d in (await s.execute(select(Department))).scalars() if d.id is not None}

    # ---- moving on -------------------------------------------------------------------------------

    async def _run(
        self, uow: UnitOfWork, case: Case, service: ServiceItem, nodes: list[CaseNode], *, actor: str, now: dt.datetime
    ) -> None:
        """Start the current stage's pending nodes, finish what the system finishes, and move on while stages end."""
        specs = {(spec.stage, spec.name): spec for spec in self.workflow_of_case(case, service)}
        while case.status == CASE_OPEN:
            stage = current_stage(nodes)
            if stage is None:
                await self._complete(uow, case, service, now=now)
                return
            starting = [node for node in nodes if node.stage == stage and node.status == PENDING]
            if not starting:
                return
            for node in starting:
                spec = specs.get((node.stage, node.name))
                node.status, node.started_at = ACTIVE, now
                node.due_at = node_due(spec, now, self.settings.tz) if spec else None
                await self._on_start(uow, case, service, node, spec, actor=actor, now=now)
            if not stage_finished(nodes, stage):
                return

    async def _on_start(
        self,
        uow: UnitOfWork,
        case: Case,
        service: ServiceItem,
        node: CaseNode,
        spec: NodeSpec | None,
        *,
        actor: str,
        now: dt.datetime,
    ) -> None:
        if node.kind == 'accept':
            await self._finish(uow, case, service, node, DONE, actor=actor, note='窗口受理', now=now)
        elif node.kind == 'certify':
            await self._certify(uow, case, service, node, spec, now=now)
        elif node.kind in SYSTEM_KINDS:
            await self._finish(uow, case, service, node, DONE, actor='system', note='', now=now)
        elif node.kind in DECIDED_KINDS and node.rule:
            note = f'秒批：{spec.auto.description}' if spec and spec.auto else '秒批'
            await self._finish(uow, case, service, node, APPROVED, actor='system', note=note, now=now)
        else:
            self._emit(uow, case, service, node, actor=actor, now=now)
            await self._notify_start(uow.session, case, service, node, now=now)

    async def _certify(
        self,
        uow: UnitOfWork,
        case: Case,
        service: ServiceItem,
        node: CaseNode,
        spec: NodeSpec | None,
        *,
        now: dt.datetime,
    ) -> None:
        kind = (spec.certificate if spec and spec.certificate else service.name)[:64]
        holder = await self._holder(uow.session, case)
        day = hall_day(now, self.settings.tz)
        issued = await certificates.issue(
            uow.session, case=case, kind=kind, holder_masked=holder, actor='system', now=now, day=day
        )
        await self._finish(uow, case, service, node, DONE, actor='system', note=f'证照编号 {issued.number}', now=now)

    async def _holder(self, s: AsyncSession, case: Case) -> str:
        citizen = await s.get(Citizen, case.citizen_id) if case.citizen_id else None
        if citizen is None:
            return ''
        if citizen.name_enc:
            return mask_name(self.cipher.decrypt(citizen.name_enc, context='citizen.name'))
        if citizen.id_number_enc:
            return mask_id_number(self.cipher.decrypt(citizen.id_number_enc, context='citizen.id_number'))
        return ''

    async def _finish(
        self,
        uow: UnitOfWork,
        case: Case,
        service: ServiceItem,
        node: CaseNode,
        status: str,
        *,
        actor: str,
        note: str,
        now: dt.datetime,
    ) -> None:
        node.status, node.finished_at = status, now
        node.actor, node.note = actor[:64], note[:NOTE_LIMIT]
        self._emit(uow, case, service, node, actor=actor, now=now)
        note = node.note if status == RETURNED else ''  # staff's words: shown on /track, never texted
        key = f'case:{case.id}:node:{node.id}:{status}'
        await self._notify(uow.session, case, key, 'case_step', _finish_message(service, node), now, note=note)

    async def _complete(self, uow: UnitOfWork, case: Case, service: ServiceItem, *, now: dt.datetime) -> None:
        case.status, case.completed_at, case.outcome = CASE_COMPLETED, now, 'approved'
        uow.emit(self._case_event(case, service, status=CASE_COMPLETED, actor='system', now=now))
        await uow.session.flush()  # the invitation reads this case as concluded
        await rating_invites.invite_after_case(uow.session, case, public_url=self.settings.public_url, now=now)

    def _emit(
        self, uow: UnitOfWork, case: Case, service: ServiceItem, node: CaseNode, *, actor: str, now: dt.datetime
    ) -> None:
        uow.emit(step_event(self.hall_id, case, service, node, actor=actor, now=now))

    def _case_event(
        self, case: Case, service: ServiceItem, *, status: str, actor: str, now: dt.datetime
    ) -> CaseStepChanged:
        assert case.id is not None
        return CaseStepChanged(
            hall_id=self.hall_id,
            time=now,
            case_id=case.id,
            ticket_id=case.ticket_id,
            service_code=service.code,
            status=status,
            case_status=case.status,
            actor=actor[:64],
        )

    async def _notify_start(
        self, s: AsyncSession, case: Case, service: ServiceItem, node: CaseNode, *, now: dt.datetime
    ) -> None:
        kind = 'pickup_ready' if node.kind == 'pickup' else 'case_step'
        if node.kind == 'pickup':
            msg = message(Template.PICKUP_READY, service=service.name, step=node.name)
        elif node.kind == 'disburse':
            msg = message(Template.DISBURSE_STARTED, service=service.name, step=node.name)
        elif node.due_at:
            due = _local(node.due_at, self.settings)
            msg = message(Template.CASE_STEP_STARTED_DUE, service=service.name, step=node.name, due=due)
        else:
            msg = message(Template.CASE_STEP_STARTED, service=service.name, step=node.name)
        await self._notify(s, case, f'case:{case.id}:node:{node.id}:{ACTIVE}', kind, msg, now)

    async def _notify(
        self,
        s: AsyncSession,
        case: Case,
        key: str,
        kind: str,
        msg: Message,
        now: dt.datetime,
        *,
        note: str = '',
        channels: tuple[str, ...] | None = None,
    ) -> None:
        """Push and SMS as for any citizen; an email too when the business left an address and must hear of it."""
        if channels is None:
            channels = await notifications.channels_for(s, case.citizen_id)
            if case.contact_email_enc and emailed(msg):
                channels = (*channels, EMAIL)
        await notifications.add(
            s,
            hall_id=self.hall_id,
            key=key,
            kind=kind,
            message=msg,
            note=note,
            now=now,
            ticket_id=case.ticket_id,
            case_id=case.id,
            citizen_id=case.citizen_id,
            channels=channels,
        )

    # ---- decisions -------------------------------------------------------------------------------

    async def decide(
        self, node_id: int, *, approve: bool, actor: str, department_id: int | None, note: str = ''
    ) -> CaseView:
        """A reviewer approves or returns a node (pickup / disburse nodes are confirmed with approve=True).

        `department_id`: the reviewer's department (None: a manager or admin, who may decide any node).
        A return needs a note: it is what the citizen is told to bring.
        """
        note = note.strip()
        if not approve and not note:
            raise Invalid('note_required')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            node = await s.get(CaseNode, node_id, with_for_update=True)
            case = await s.get(Case, node.case_id, with_for_update=True) if node else None
            if node is None or case is None or case.hall_id != self.hall_id:
                raise NotFound('unknown_node')
            if department_id is not None and node.department_id != department_id:
                raise Forbidden('not_your_department')
            if node.status != ACTIVE or node.kind not in DECIDED_KINDS + CONFIRMED_KINDS:
                raise Conflict('node_not_pending')
            service = await s.get(ServiceItem, case.service_id)
            assert service is not None
            if approve:
                status = APPROVED if node.kind in DECIDED_KINDS else DONE
                await self._finish(uow, case, service, node, status, actor=actor, note=note, now=now)
                await self._run(uow, case, service, await case_views.nodes(s, case.id or 0), actor=actor, now=now)
            else:
                if node.kind not in DECIDED_KINDS:
                    raise Conflict('cannot_return')
                case.status = CASE_RETURNED
                await self._finish(uow, case, service, node, RETURNED, actor=actor, note=note, now=now)
            case_id = case.id
        self._delivered()
        assert case_id is not None
        return await self.view(case_id)

    async def resubmit(self, case_id: int, *, actor: str, note: str = '') -> CaseView:
        """The citizen brought what was asked (补正): the returned nodes run again, the approved ones stay."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            case = await s.get(Case, case_id, with_for_update=True)
            if case is None or case.hall_id != self.hall_id:
                raise NotFound('unknown_case')
            if case.status != CASE_RETURNED:
                raise Conflict('case_not_returned')
            service = await s.get(ServiceItem, case.service_id)
            assert service is not None
            nodes = await case_views.nodes(s, case.id or 0)
            stage = current_stage(nodes)
            retries = [
                CaseNode(
                    case_id=case_id,
                    stage=old.stage,
                    kind=old.kind,
                    name=old.name,
                    department_id=old.department_id,
                    status=PENDING,
                    rule='',
                    note=f'补正后重新提交：{note.strip()}'[:NOTE_LIMIT] if note.strip() else '补正后重新提交',
                )
                for old in (to_retry(nodes, stage) if stage is not None else [])
                if isinstance(old, CaseNode)
            ]
            s.add_all(retries)
            await s.flush()
            case.status = CASE_OPEN
            uow.emit(self._case_event(case, service, status=CASE_OPEN, actor=actor, now=now))
            await self._run(uow, case, service, nodes + retries, actor=actor, now=now)
        self._delivered()
        return await self.view(case_id)

    # ---- reads (app/services/case_views.py) ------------------------------------------------------

    async def view(self, case_id: int, *, consent_missing: bool = False) -> CaseView:
        async with self.db.read_session() as s:
            case = await s.get(Case, case_id)
            if case is None or case.hall_id != self.hall_id:
                raise NotFound('unknown_case')
            return await case_views.load(s, case, consent_missing=consent_missing)

    async def tracked_view(self, case_id: int) -> CaseView:
        """A case its citizen follows by its own code, at whichever hall handles it now (跨区通办 moves it)."""
        async with self.db.read_session() as s:
            case = await s.get(Case, case_id)
            if case is None:
                raise NotFound('unknown_case')
            return await case_views.load(s, case)

    async def views_for_ticket(self, ticket_id: int) -> list[CaseView]:
        async with self.db.read_session() as s:
            return await case_views.for_ticket(s, ticket_id)

    async def pending_for(self, department_id: int | None) -> list[PendingNode]:
        """Nodes waiting for a department's decision or confirmation, most urgent first (None: every department)."""
        async with self.db.read_session() as s:
            return await case_views.pending(s, self.hall_id, department_id, now=self.clock(), tz=self.settings.tz)

    async def sla_sweep(self) -> list[SlaAtRisk]:
        """Warn once per node and level, at risk then overdue (app/services/sla.py); SlaAtRisk goes to the twin."""
        published = await sla.sweep(self.db, self.bus, hall_id=self.hall_id, now=self.clock(), tz=self.settings.tz)
        if published:
            self._delivered()
        return published


def _fired(spec: NodeSpec, answers: Mapping[str, str], confirmed: Mapping[str, Mapping[str, Any]]) -> str:
    """The 秒批 rule this node will be approved by when it starts ('' when none holds)."""
    if spec.auto is None or not rule_holds(spec.auto, answers=answers, confirmed=confirmed):
        return ''
    return spec.auto.rule


def _finish_message(service: ServiceItem, node: CaseNode) -> Message:
    """What the citizen is told when a node ends (every node, so nothing happens unseen)."""
    if node.status == RETURNED:
        return message(Template.CASE_RETURNED, service=service.name, step=node.name)
    if node.kind == 'accept':
        return message(Template.CASE_ACCEPTED, service=service.name)
    if node.kind == 'conclude':
        return message(Template.CASE_CONCLUDED, service=service.name)
    if node.kind == 'certify':
        return message(Template.CERTIFIED, certificate=node.note)
    if node.kind == 'pickup':
        return message(Template.PICKED_UP, service=service.name)
    if node.kind == 'disburse':
        return message(Template.DISBURSED, service=service.name)
    if node.rule:
        return message(Template.STEP_APPROVED_BY_RULE, step=node.name)
    return message(Template.STEP_APPROVED, step=node.name)


def step_event(
    hall_id: int, case: Case, service: ServiceItem, node: CaseNode, *, actor: str, now: dt.datetime
) -> CaseStepChanged:
    """One step of a case moved: what the timeline pages, the twin and the SLA follow (any kind of case)."""
    assert case.id is not None and node.id is not None
    return CaseStepChanged(
        hall_id=hall_id,
        time=now,
        case_id=case.id,
        node_id=node.id,
        ticket_id=case.ticket_id,
        service_code=service.code,
        stage=node.stage,
        kind=node.kind,
        name=node.name,
        department_id=node.department_id,
        status=node.status,
        case_status=case.status,
        rule=node.rule if node.status == APPROVED else '',
        actor=actor[:64],
    )
