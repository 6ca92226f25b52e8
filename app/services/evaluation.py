"""好差评: rate a served ticket, and the rectification loop a bad rating opens.

A dissatisfied rating opens a Rectification for the service's department, due in WORKING days
(RECTIFICATION_WORKING_DAYS: 5, 7 or 15, counted with China's holidays). The department records its
callback (回访) and its fix (整改); the citizen is then invited to rate again, and the new rating
replaces the old one (`replaces_id`). Staff who dispute a rating appeal (申诉); a reviewer other than
the appellant decides (复核): upheld voids the rating in the statistics, rejected lets the loop go on.
Satisfaction counts only ratings in force: not replaced by a re-rating, not voided on appeal.

The window's rating pad (评价器) lands on the same one evaluation per ticket as /track and the texted link:
it may rate only the ticket its own window completed last, within PAD_TIME of completion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, or_
from sqlalchemy import select as core_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import Bus
from app.clock import hall_day
from app.events import EvaluationSubmitted, RectificationChanged, RectificationOpened
from app.models.cases import Case, Evaluation, Rectification
from app.models.hall import Department, ServiceItem, Window
from app.models.people import Role, StaffUser
from app.models.security import AuditEntry
from app.models.ticket import Ticket, TicketEvent, TicketStatus
from app.services import audit, notifications, satisfaction
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.messages import Message, Template, message
from app.services.principal import Kind, Principal
from app.services.satisfaction import UPHELD, SatisfactionRow
from app.services.tracking import VIA_SMS, PersonAct
from app.services.uow import Service, UnitOfWork
from app.services.workdays import add_working_days

OPEN = 'open'
CALLED_BACK = 'called_back'
FIXED = 'fixed'
APPEALED = 'appealed'
CLOSED = 'closed'
VOID = 'void'  # an appeal was upheld: the rating does not count
ACTIVE_STATUSES = (OPEN, CALLED_BACK, FIXED, APPEALED)
REJECTED = 'rejected'
RATING_APPEAL = 'rating_appeal'
RATING_APPEAL_DECIDED = 'rating_appeal_decided'
VIA_PAD = 'window_pad'  # the rating pad at the window that completed the ticket
PAD_TIME = dt.timedelta(minutes=10)  # a pad offers (and accepts) a rating this long after completion
TEXT_LIMIT = 500
MAX_TAGS = 6


@dataclass(frozen=True)
class Level:
    code: str
    label: str
    score: int
    satisfied: bool


SCALES: dict[str, tuple[Level, ...]] = {
    'four': (
        Level('very_good', '非常满意', 4, True),
        Level('good', '满意', 3, True),
        Level('bad', '不满意', 2, False),
        Level('very_bad', '非常不满意', 1, False),
    ),
    # GB/T 39734-2020 (政务服务评价工作指南): 非常满意、满意、基本满意、不满意、非常不满意
    'five': (
        Level('very_good', '非常满意', 5, True),
        Level('good', '满意', 4, True),
        Level('basic', '基本满意', 3, True),
        Level('bad', '不满意', 2, False),
        Level('very_bad', '非常不满意', 1, False),
    ),
}
POSITIVE_TAGS = ('服务热情', '办理高效', '一次办成', '指引清晰', '环境舒适')
NEGATIVE_TAGS = ('等候时间长', '服务态度差', '一次性告知不清', '材料要求繁琐', '办理效率低', '系统故障')


def level_label(scale: str, code: str) -> str:
    return next((level.label for level in SCALES.get(scale, ()) if level.code == code), code)


@dataclass(frozen=True)
class RatingState:
    """What a citizen may do about a ticket now: rate it, rate it again after a fix, or nothing."""

    can_rate: bool
    latest: Evaluation | None
    rectification: Rectification | None
    department_name: str = ''

    @property
    def is_rerating(self) -> bool:
        return self.can_rate and self.latest is not None


@dataclass(frozen=True)
class PadPrompt:
    """What a window's rating pad shows: the service just completed there (no personal data)."""

    ticket_id: int
    number: str  # as the call board shows it
    service_name: str
    clerk_name: str
    completed_at: dt.datetime


_TICKET, _TICKET_EVENT, _SERVICE, _STAFF, _EVALUATION, _RECTIFICATION = (
    model.__table__  # type: ignore[attr-defined]
    for model in (Ticket, TicketEvent, ServiceItem, StaffUser, Evaluation, Rectification)
)


def _pad_prompt_statement() -> Select[Any]:
    """PAD_PROMPT: see `EvaluationService.pad_prompt`; `_state` and `_staff_of` state the same rules row by row."""
    latest = (
        core_select(_EVALUATION.c.id)
        .where(_EVALUATION.c.ticket_id == _TICKET.c.id)
        .order_by(_EVALUATION.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rectified = exists().where(_RECTIFICATION.c.evaluation_id == latest, _RECTIFICATION.c.status == FIXED)
    completer = (
        core_select(_TICKET_EVENT.c.actor)
        .where(_TICKET_EVENT.c.ticket_id == _TICKET.c.id, _TICKET_EVENT.c.kind == 'completed')
        .order_by(_TICKET_EVENT.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    by_name = core_select(_STAFF.c.display_name).where(_STAFF.c.username == completer).limit(1).scalar_subquery()
    at_window = (
        core_select(_STAFF.c.display_name)
        .where(_STAFF.c.window_id == _TICKET.c.window_id, _STAFF.c.role == Role.STAFF)
        .order_by(_STAFF.c.id)
        .limit(1)
        .scalar_subquery()
    )
    return (
        core_select(
            _TICKET.c.id,
            _TICKET.c.number,
            _TICKET.c.completed_at,
            _SERVICE.c.name.label('service_name'),
            func.coalesce(by_name, at_window).label('clerk_name'),
            or_(latest.is_(None), rectified).label('can_rate'),
        )
        .join_from(_TICKET, _SERVICE, _SERVICE.c.id == _TICKET.c.service_id)
        .where(
            _TICKET.c.hall_id == bindparam('hall_id'),
            _TICKET.c.window_id == bindparam('window_id'),
            _TICKET.c.status == TicketStatus.COMPLETED,
            _TICKET.c.completed_at >= bindparam('since', type_=_TICKET.c.completed_at.type),
        )
        .order_by(_TICKET.c.completed_at.desc(), _TICKET.c.id.desc())
        .limit(1)
    )


PAD_PROMPT = _pad_prompt_statement()  # built once, bound per completion


@dataclass(frozen=True)
class RatingResult:
    evaluation: Evaluation
    rectification: Rectification | None


@dataclass(frozen=True)
class RectificationView:
    rectification: Rectification
    evaluation: Evaluation
    service_name: str
    ticket_number: str
    window_number: int | None
    overdue: bool
    appellant: str = ''


class EvaluationService(Service):
    bus: Bus

    def __init__(self, deps: Deps, *, notifier: notifications.NotificationService | None = None) -> None:
        super().__init__(deps)
        self.notifier = notifier

    def _delivered(self) -> None:
        if self.notifier is not None:
            self.notifier.kick()

    @property
    def scale(self) -> tuple[Level, ...]:
        return SCALES[self.rules.evaluation_scale]

    def level(self, code: str) -> Level:
        for level in self.scale:
            if level.code == code:
                return level
        raise Invalid('unknown_level')

    # ---- rating --------------------------------------------------------------------------------

    async def state(self, ticket_id: int) -> RatingState:
        async with self.db.read_session() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None or ticket.hall_id != self.hall_id:
                raise NotFound('unknown_ticket')
            return await self._state(s, ticket)

    async def _state(self, s: AsyncSession, ticket: Ticket) -> RatingState:
        latest = (
            (
                await s.execute(
                    select(Evaluation).where(Evaluation.ticket_id == ticket.id).order_by(col(Evaluation.id).desc())
                )
            )
            .scalars()
            .first()
        )
        rectification = (
            (await s.execute(select(Rectification).where(Rectification.evaluation_id == latest.id))).scalars().first()
            if latest
            else None
        )
        department = await s.get(Department, rectification.department_id) if rectification else None
        done = ticket.status == TicketStatus.COMPLETED
        can_rate = done and (latest is None or (rectification is not None and rectification.status == FIXED))
        return RatingState(can_rate, latest, rectification, department.name if department else '')

    async def rate(self, act: PersonAct, level: str, *, tags: Sequence[str] = (), comment: str = '') -> RatingResult:
        """Rate a completed ticket; after a department's fix the new rating replaces the old one.

        Only the citizen rates, through the texted code (`act.via`): staff at the window never rate the
        service they give. A dissatisfied rating opens a rectification for the department, due in working days.
        """
        ticket_id = act.tracked.ticket_id
        if act.via != VIA_SMS or ticket_id is None:
            raise Forbidden(
                'citizen_rates',
            )
        chosen = self.level(level)
        allowed = set(POSITIVE_TAGS) | set(NEGATIVE_TAGS)
        tags = list(dict.fromkeys(tag for tag in tags if tag in allowed))[:MAX_TAGS]
        comment = comment.strip()[:TEXT_LIMIT]
        return await self._record(ticket_id, chosen, tags, comment, actor=act.actor, role=act.role, via=act.via)

    async def pad_prompt(self, caller: Principal) -> PadPrompt | None:
        """The ticket this pad's window completed last, if it is recent and not rated yet; else None (idle).

        One statement, bounded by PAD_TIME (it runs after every completion at a window with a pad, however long the
        queue): the ticket, its service's name, whether it may be rated (`_state`'s rule) and who served it
        (`_staff_of`'s rule), so it is a short read."""
        window_id = _pad_window(caller)
        now = self.clock()
        async with self.db.read_session(short=True) as s:
            bound = {'hall_id': self.hall_id, 'window_id': window_id, 'since': now - PAD_TIME}
            row = (await s.execute(PAD_PROMPT, bound)).one_or_none()
        if row is None or not row.can_rate:
            return None
        return PadPrompt(
            ticket_id=row.id,
            number=row.number,
            service_name=row.service_name or '',
            clerk_name=row.clerk_name or '',
            completed_at=row.completed_at,
        )

    async def rate_at_pad(self, caller: Principal, ticket_id: int, level: str) -> RatingResult:
        """One tap on the window's pad: the same one evaluation of the ticket as /track and the texted link.

        The pad may rate only the ticket its own window completed last, within PAD_TIME; anything else
        (another window's ticket, an older one, a replay after the rating) is refused and changes nothing.
        """
        window_id = _pad_window(caller)
        chosen = self.level(level)
        return await self._record(
            ticket_id, chosen, [], '', actor=caller.name, role=str(caller.role), via=VIA_PAD, pad_window=window_id
        )

    async def _last_completed(self, s: AsyncSession, window_id: int, now: dt.datetime) -> Ticket | None:
        statement = (
            select(Ticket)
            .where(
                Ticket.hall_id == self.hall_id,
                Ticket.window_id == window_id,
                Ticket.status == TicketStatus.COMPLETED,
                col(Ticket.completed_at).is_not(None),
            )
            .order_by(col(Ticket.completed_at).desc(), col(Ticket.id).desc())
            .limit(1)
        )
        ticket = (await s.execute(statement)).scalars().first()
        if ticket is None or ticket.completed_at is None or now - ticket.completed_at > PAD_TIME:
            return None
        return ticket

    async def _record(
        self,
        ticket_id: int,
        chosen: Level,
        tags: list[str],
        comment: str,
        *,
        actor: str,
        role: str,
        via: str,
        pad_window: int | None = None,
    ) -> RatingResult:
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            ticket = await s.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None or ticket.hall_id != self.hall_id:
                raise NotFound('unknown_ticket')
            if pad_window is not None:
                current = await self._last_completed(s, pad_window, now)
                if current is None or current.id != ticket.id:
                    raise Conflict('pad_ticket_not_current')
            if ticket.status != TicketStatus.COMPLETED:
                raise Conflict('not_completed')
            state = await self._state(s, ticket)
            if not state.can_rate:
                raise Conflict('already_rated')
            service = await s.get(ServiceItem, ticket.service_id)
            assert service is not None
            evaluation = Evaluation(
                hall_id=self.hall_id,
                ticket_id=ticket_id,
                case_id=await self._case_id(s, ticket_id),
                window_id=ticket.window_id,
                staff_user_id=await self._staff_of(s, ticket),
                department_id=service.department_id,
                scale=self.rules.evaluation_scale,
                level=chosen.code,
                score=chosen.score,
                satisfied=chosen.satisfied,
                tags=tags,
                comment=comment,
                created_at=now,
                replaces_id=state.latest.id if state.latest else None,
            )
            s.add(evaluation)
            await s.flush()
            if state.rectification is not None:
                state.rectification.status, state.rectification.closed_at = CLOSED, now
                self._changed(uow, state.rectification, actor='citizen', now=now)
            rectification = None if chosen.satisfied else await self._open(uow, evaluation, ticket, service, now)
            await audit.record(
                s,
                actor=actor,
                role=role,
                action=audit.RATED,
                target=f'evaluation:{evaluation.id}',
                detail={'ticket_id': ticket_id, 'level': chosen.code, 'via': via},
                now=now,
            )
            uow.emit(self._submitted(evaluation, now))
        self._delivered()
        return RatingResult(evaluation, rectification)

    async def _open(
        self, uow: UnitOfWork, evaluation: Evaluation, ticket: Ticket, service: ServiceItem, now: dt.datetime
    ) -> Rectification:
        assert evaluation.id is not None
        deadline = add_working_days(hall_day(now, self.settings.tz), self.rules.rectification_working_days)
        rectification = Rectification(
            evaluation_id=evaluation.id,
            department_id=service.department_id,
            deadline=deadline,
            created_at=now,
        )
        uow.session.add(rectification)
        await uow.session.flush()
        assert rectification.id is not None
        department = await uow.session.get(Department, service.department_id)
        name = department.name if department else '相关部门'
        await self._notify(
            uow.session,
            ticket,
            f'rect:{rectification.id}:open',
            message(Template.RATING_RECEIVED, service=service.name, department=name, deadline=f'{deadline:%m月%d日}'),
            now,
        )
        uow.emit(
            RectificationOpened(
                hall_id=self.hall_id,
                time=now,
                rectification_id=rectification.id,
                evaluation_id=evaluation.id,
                department_id=rectification.department_id,
                deadline=deadline,
            )
        )
        return rectification

    @staticmethod
    async def _case_id(s: AsyncSession, ticket_id: int) -> int | None:
        statement = select(Case.id).where(Case.ticket_id == ticket_id).order_by(col(Case.id))
        return (await s.execute(statement)).scalars().first()

    @staticmethod
    async def _staff_of(s: AsyncSession, ticket: Ticket) -> int | None:
        """Who served the ticket: the account that completed it, else the window's staff member."""
        actor = (
            (
                await s.execute(
                    select(TicketEvent.actor)
                    .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == 'completed')
                    .order_by(col(TicketEvent.id).desc())
                )
            )
            .scalars()
            .first()
        )
        if actor:
            found = (await s.execute(select(StaffUser.id).where(StaffUser.username == actor))).scalars().first()
            if found is not None:
                return found
        if ticket.window_id is None:
            return None
        statement = select(StaffUser.id).where(StaffUser.window_id == ticket.window_id, StaffUser.role == Role.STAFF)
        return (await s.execute(statement.order_by(col(StaffUser.id)))).scalars().first()

    def _submitted(self, evaluation: Evaluation, now: dt.datetime) -> EvaluationSubmitted:
        assert evaluation.id is not None
        return EvaluationSubmitted(
            hall_id=self.hall_id,
            time=now,
            evaluation_id=evaluation.id,
            ticket_id=evaluation.ticket_id,
            window_id=evaluation.window_id,
            department_id=evaluation.department_id,
            staff_user_id=evaluation.staff_user_id,
            scale=evaluation.scale,
            level=evaluation.level,
            score=evaluation.score,
            satisfied=evaluation.satisfied,
            replaces_id=evaluation.replaces_id,
        )

    # ---- the department's side ----------------------------------------------------------------

    async def callback(
        self, rectification_id: int, *, actor: str, department_id: int | None, note: str
    ) -> Rectification:
        """The department called the citizen back (回访): what was learned."""
        return await self._step(rectification_id, actor, department_id, note, step='callback')

    async def fix(self, rectification_id: int, *, actor: str, department_id: int | None, note: str) -> Rectification:
        """The department fixed the cause (整改); the citizen is invited to rate again."""
        return await self._step(rectification_id, actor, department_id, note, step='fix')

    async def _step(
        self, rectification_id: int, actor: str, department_id: int | None, note: str, *, step: str
    ) -> Rectification:
        note = note.strip()[:TEXT_LIMIT]
        if not note:
            raise Invalid('note_required', text='note_required.rectification')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            rectification = await self._locked(s, rectification_id, department_id)
            if rectification.status not in (OPEN, CALLED_BACK):
                raise Conflict('rectification_not_open')
            if step == 'callback':
                rectification.callback_at, rectification.callback_note = now, note
                rectification.status = CALLED_BACK
            else:
                if rectification.callback_at is None:
                    raise Conflict('callback_first')
                rectification.fixed_at, rectification.fix_note, rectification.status = now, note, FIXED
                ticket, service = await self._ticket_and_service(s, rectification)
                fixed = message(Template.RECTIFIED, service=service.name)  # the note is shown on /track, never texted
                await self._notify(s, ticket, f'rect:{rectification.id}:fixed', fixed, now, note=note)
            self._changed(uow, rectification, actor=actor, now=now)
        self._delivered()
        return rectification

    async def appeal(self, rectification_id: int, *, actor: str, role: str, reason: str) -> Rectification:
        """Staff dispute the rating (申诉): recorded in the audit log, a reviewer decides."""
        reason = reason.strip()[:TEXT_LIMIT]
        if not reason:
            raise Invalid('reason_required')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            rectification = await self._locked(s, rectification_id, None)
            if rectification.appeal_decision or rectification.status not in (OPEN, CALLED_BACK):
                raise Conflict('appeal_not_possible')
            rectification.status, rectification.appeal_reason = APPEALED, reason
            self._changed(uow, rectification, actor=actor, now=now)
            await audit.record(
                s,
                actor=actor,
                role=role,
                action=RATING_APPEAL,
                target=f'rectification:{rectification_id}',
                detail={'evaluation_id': rectification.evaluation_id},
                now=now,
            )
        return rectification

    async def decide_appeal(
        self, rectification_id: int, *, actor: str, role: str, department_id: int | None, upheld: bool
    ) -> Rectification:
        """复核: upheld voids the rating (it leaves the statistics); rejected sends the rectification on."""
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            rectification = await self._locked(s, rectification_id, department_id)
            if rectification.status != APPEALED:
                raise Conflict('no_appeal')
            if await self._appellant(s, rectification_id) == actor:
                raise Forbidden('own_appeal')
            rectification.appeal_decision = UPHELD if upheld else REJECTED
            rectification.decided_by = actor[:64]
            if upheld:
                rectification.status, rectification.closed_at = VOID, now
                ticket, service = await self._ticket_and_service(s, rectification)
                void = message(Template.RATING_VOID, service=service.name)
                await self._notify(s, ticket, f'rect:{rectification.id}:void', void, now)
            else:
                rectification.status = CALLED_BACK if rectification.callback_at else OPEN
            self._changed(uow, rectification, actor=actor, now=now)
            await audit.record(
                s,
                actor=actor,
                role=role,
                action=RATING_APPEAL_DECIDED,
                target=f'rectification:{rectification_id}',
                detail={'decision': rectification.appeal_decision},
                now=now,
            )
        self._delivered()
        return rectification

    async def _locked(self, s: AsyncSession, rectification_id: int, department_id: int | None) -> Rectification:
        rectification = await s.get(Rectification, rectification_id, with_for_update=True)
        evaluation = await s.get(Evaluation, rectification.evaluation_id) if rectification else None
        if rectification is None or evaluation is None or evaluation.hall_id != self.hall_id:
            raise NotFound('unknown_rectification')
        if department_id is not None and rectification.department_id != department_id:
            raise Forbidden('not_your_department', text='not_your_department.rectification')
        return rectification

    @staticmethod
    async def _appellant(s: AsyncSession, rectification_id: int) -> str:
        statement = (
            select(AuditEntry.actor)
            .where(AuditEntry.action == RATING_APPEAL, AuditEntry.target == f'rectification:{rectification_id}')
            .order_by(col(AuditEntry.id).desc())
        )
        return (await s.execute(statement)).scalars().first() or ''

    @staticmethod
    async def _ticket_and_service(s: AsyncSession, rectification: Rectification) -> tuple[Ticket, ServiceItem]:
        evaluation = await s.get(Evaluation, rectification.evaluation_id)
        ticket = await s.get(Ticket, evaluation.ticket_id) if evaluation else None
        service = await s.get(ServiceItem, ticket.service_id) if ticket else None
        assert ticket is not None and service is not None
        return ticket, service

    async def _notify(
        self, s: AsyncSession, ticket: Ticket, key: str, msg: Message, now: dt.datetime, *, note: str = ''
    ) -> None:
        await notifications.add(
            s,
            hall_id=self.hall_id,
            key=key,
            kind='evaluation',
            message=msg,
            note=note,
            now=now,
            ticket_id=ticket.id,
            citizen_id=ticket.citizen_id,
        )

    def _changed(self, uow: UnitOfWork, rectification: Rectification, *, actor: str, now: dt.datetime) -> None:
        assert rectification.id is not None
        uow.emit(
            RectificationChanged(
                hall_id=self.hall_id,
                time=now,
                rectification_id=rectification.id,
                evaluation_id=rectification.evaluation_id,
                department_id=rectification.department_id,
                status=rectification.status,
                actor=actor[:64],
            )
        )

    # ---- reads ---------------------------------------------------------------------------------

    async def rectifications_for(
        self, department_id: int | None, *, include_closed: bool = False
    ) -> list[RectificationView]:
        """A department's rectifications (None: all), the ones still to act on first, by deadline."""
        statement = (
            select(Rectification, Evaluation, Ticket, ServiceItem)
            .join(Evaluation, col(Evaluation.id) == Rectification.evaluation_id)
            .join(Ticket, col(Ticket.id) == Evaluation.ticket_id)
            .join(ServiceItem, col(ServiceItem.id) == Ticket.service_id)
            .where(Evaluation.hall_id == self.hall_id)
            .order_by(col(Rectification.deadline), col(Rectification.id))
        )
        if department_id is not None:
            statement = statement.where(Rectification.department_id == department_id)
        if not include_closed:
            statement = statement.where(col(Rectification.status).in_(ACTIVE_STATUSES))
        today = hall_day(self.clock(), self.settings.tz)
        async with self.db.read_session() as s:
            rows = (await s.execute(statement)).all()
            windows = {w.id: w.number for w in (await s.execute(select(Window))).scalars()}
            views = []
            for rectification, evaluation, ticket, service in rows:
                appellant = await self._appellant(s, rectification.id) if rectification.appeal_reason else ''
                views.append(
                    RectificationView(
                        rectification,
                        evaluation,
                        service.name,
                        ticket.number,
                        windows.get(evaluation.window_id),
                        overdue=rectification.status in (OPEN, CALLED_BACK) and today > rectification.deadline,
                        appellant=appellant,
                    )
                )
        return views

    async def satisfaction_by_window(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[SatisfactionRow]:
        return await satisfaction.by_window(self.db, self.hall_id, since=since, until=until)

    async def satisfaction_by_department(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[SatisfactionRow]:
        return await satisfaction.by_department(self.db, self.hall_id, since=since, until=until)

    async def satisfaction_by_staff(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> list[SatisfactionRow]:
        return await satisfaction.by_staff(self.db, self.hall_id, since=since, until=until)

    async def satisfaction_overall(
        self, *, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> SatisfactionRow:
        """The hall's satisfaction (the manager's KPI tile): satisfied ratings over ratings in force."""
        return await satisfaction.overall(self.db, self.hall_id, since=since, until=until)


def _pad_window(caller: Principal) -> int:
    """Only a window's paired rating pad rates by tap, and only for its own window."""
    if caller.kind != Kind.PAD or caller.window_id is None:
        raise Forbidden('pad_only')
    return caller.window_id
