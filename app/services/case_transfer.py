"""跨区通办: a case moves to another hall of the city and keeps its number, history, materials and ratings.

Several halls share one database, so a transfer changes only the case's `hall_id`: every node, material,
certificate, rating and notice stays attached by the case's id, and the citizen's tracking code keeps working.
The move itself is one more finished step on the timeline ("转至 <hall>", who, when, why), told to the citizen,
written to the audit chain, and published for both halls' desks. Only staff of the case's current hall may move
it (a clerk whose window is in that hall, or a manager signed in to it), and only while the case is still open.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.cases import Case, CaseNode
from app.models.hall import Hall, ServiceItem
from app.models.people import Role
from app.models.ticket import Ticket
from app.services import audit, case_views, notifications
from app.services.case_views import CaseView
from app.services.cases import NOTE_LIMIT, step_event
from app.services.deps import Deps
from app.services.errors import Conflict, Invalid, NotFound
from app.services.halls import require_hall_staff
from app.services.messages import MAX_PARAMETER_LENGTH, Template, message
from app.services.notifications import NotificationService
from app.services.principal import Principal
from app.services.uow import Service
from app.services.workflow import CASE_COMPLETED, DONE, current_stage

TRANSFER_KIND = 'transfer'  # the kind of the timeline step a transfer adds (app/models/cases.py CaseNode.kind)
CASE_TRANSFERRED = 'case_transferred'  # the audit action
REASON_MAX = 200
TRANSFER_ROLES = (Role.STAFF, Role.MANAGER)


@dataclass(frozen=True)
class HallChoice:
    """A hall a case may be sent to: what the desk's dialog lists."""

    id: int
    code: str
    name: str


def transfer_step_name(hall_name: str) -> str:
    return f'转至{hall_name}'[:100]


def transfer_note(source: str, target: str, reason: str) -> str:
    """What the citizen reads on the timeline: where from, where to, and why, in plain words."""
    return f'由{source}转至{target}办理，办件编号和办理进度不变。原因：{reason}'[:NOTE_LIMIT]


class CaseTransferService(Service):
    def __init__(self, deps: Deps, *, notifier: NotificationService | None = None) -> None:
        super().__init__(deps)
        self.notifier = notifier

    async def other_halls(self) -> list[HallChoice]:
        """Every hall in the database except this one, by code."""
        async with self.db.read_session() as s:
            statement = select(Hall).where(Hall.id != self.hall_id).order_by(col(Hall.code))
            return [HallChoice(h.id or 0, h.code, h.name) for h in (await s.execute(statement)).scalars()]

    async def transfer(
        self,
        case_id: int | None = None,
        *,
        to_hall_id: int,
        reason: str,
        caller: Principal,
        ticket_code: str | None = None,
    ) -> CaseView:
        """Move an open case of this hall (by id, or the case of the ticket a window serves) to hall `to_hall_id`.

        Refused, changing nothing: callers who are not staff or a manager of this hall (`forbidden`,
        `not_your_hall`), an empty reason, a case not of this hall (`unknown_case`), a closed case (`case_closed`),
        an unknown hall (`unknown_hall`) or this same hall (`same_hall`).
        """
        caller.require(*TRANSFER_ROLES)
        reason = ' '.join(reason.split())
        if not reason:
            raise Invalid('transfer_reason_required')
        if len(reason) > REASON_MAX:
            raise Invalid('transfer_reason_too_long', limit=REASON_MAX)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            await require_hall_staff(s, caller, self.hall_id)
            case = await self._case(s, case_id, ticket_code)
            if case is None and case_id is None:
                raise Conflict('case_not_opened', text='case_not_opened.transfer')
            if case is None or case.hall_id != self.hall_id:
                raise NotFound('unknown_case')
            if case.status == CASE_COMPLETED:
                raise Conflict('case_closed')
            if to_hall_id == case.hall_id:
                raise Conflict('same_hall')
            source, target = await s.get(Hall, case.hall_id), await s.get(Hall, to_hall_id)
            if target is None or target.id is None:
                raise Invalid('unknown_hall')
            service = await s.get(ServiceItem, case.service_id)
            assert source is not None and service is not None and case.id is not None
            nodes = await case_views.nodes(s, case.id)
            stage = current_stage(nodes)
            node = CaseNode(
                case_id=case.id,
                stage=stage if stage is not None else max((n.stage for n in nodes), default=0),
                kind=TRANSFER_KIND,
                name=transfer_step_name(target.name),
                status=DONE,
                started_at=now,
                finished_at=now,
                actor=caller.name[:64],
                note=transfer_note(source.name, target.name, reason),
            )
            s.add(node)
            case.hall_id = target.id
            await s.flush()
            for hall_id in (self.hall_id, target.id):  # the source's desks drop it, the target's pick it up
                uow.emit(step_event(hall_id, case, service, node, actor=caller.name, now=now))
            await notifications.add(
                s,
                hall_id=self.hall_id,
                key=f'case:{case.id}:node:{node.id}:{DONE}',
                kind='case_step',
                message=message(
                    Template.CASE_TRANSFERRED,
                    service=service.name[:MAX_PARAMETER_LENGTH],
                    hall=target.name[:MAX_PARAMETER_LENGTH],
                ),
                note=node.note,
                now=now,
                ticket_id=case.ticket_id,
                case_id=case.id,
                citizen_id=case.citizen_id,
                channels=await notifications.channels_for(s, case.citizen_id),
            )
            await audit.record_for(
                s,
                caller,
                action=CASE_TRANSFERRED,
                target=f'case:{case.id}',
                detail={'from': source.code, 'to': target.code, 'node': node.id},
                now=now,
            )
            case_id = case.id
        if self.notifier is not None:
            self.notifier.kick()
        async with self.db.read_session() as s:
            moved = await s.get(Case, case_id)
            assert moved is not None
            return await case_views.load(s, moved)

    @staticmethod
    async def _case(s: AsyncSession, case_id: int | None, ticket_code: str | None) -> Case | None:
        if case_id is not None:
            return await s.get(Case, case_id, with_for_update=True)
        if not ticket_code:
            return None
        statement = select(Case).join(Ticket, col(Ticket.id) == Case.ticket_id).where(Ticket.code == ticket_code)
        return (await s.execute(statement.with_for_update(of=Case))).scalars().first()
