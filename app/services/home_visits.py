"""上门服务 (home visits): asked for by the citizen's phone, a relative holding a grant, or staff; scheduled and
staffed by the service's department (or a manager); followed by the citizen and the relative as a case.

The visit is a case of kind 'home_visit' (app/services/visit_timeline.py): its steps, deadlines and notices use
the case machinery, so the timeline, the SLA sweep and the outbox treat it like any other case. The address is
stored encrypted and shown masked; only the people sent and those who handle the visit read it whole, and each
reading is audited. Every change writes its audit row and publishes HomeVisitChanged for the twin's visit queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.events import HomeVisitChanged
from app.models.cases import Case, CaseNode
from app.models.hall import ServiceItem
from app.models.people import STAFF_ROLES, Role, StaffUser
from app.models.visits import OPEN_VISITS, HomeVisit, VisitStatus
from app.security import codes
from app.services import audit, case_views, citizens, notifications, visit_rules, visit_timeline
from app.services.case_views import CaseView
from app.services.cases import step_event
from app.services.deps import Deps
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.identity import parse_id_number
from app.services.messages import Template, message
from app.services.notifications import NotificationService
from app.services.principal import Kind, Principal
from app.services.proxy import ProxyService
from app.services.uow import Service, UnitOfWork
from app.services.workdays import close_of_working_days
from app.services.workflow import CASE_COMPLETED

ADDRESS_CONTEXT = 'home_visit.address'
OPEN_PER_PERSON = 3  # open visits one citizen, phone or grant may have at once


@dataclass(frozen=True)
class VisitView:
    """A visit as its citizen, relative or the hall's staff see it: the address masked, the case's timeline."""

    visit: HomeVisit
    service_name: str
    address_masked: str
    assignees: list[str]
    case: CaseView

    @property
    def id(self) -> int:
        return self.visit.id or 0


class HomeVisitService(Service):
    def __init__(self, deps: Deps, proxy: ProxyService, *, notifier: NotificationService | None = None) -> None:
        super().__init__(deps)
        self.proxy = proxy
        self.notifier = notifier

    def _delivered(self) -> None:
        if self.notifier is not None:
            self.notifier.kick()

    # ---- asking for a visit ----------------------------------------------------------------------

    async def request(self, caller: Principal, *, service_code: str, address: str) -> VisitView:
        """The signed-in phone asks for itself (its citizen, once a kiosk or clerk linked the account)."""
        account_id = caller.require_account()
        address = visit_rules.checked_address(address)
        now = self.clock()
        async with self._transaction() as uow:
            visit = await self._open(
                uow,
                caller,
                service_code,
                address,
                citizen_id=caller.citizen_id,
                account_id=account_id,
                grant_id=None,
                now=now,
            )
        self._delivered()
        return await self.view(visit)

    async def request_for(
        self, caller: Principal, *, service_code: str, address: str, id_number: str, phone: str | None = None
    ) -> VisitView:
        """Staff ask for a citizen named by ID number (on the phone to the hall, say); the phone is kept only for
        a citizen new to the hall, never changed for a known one on someone's word."""
        visit_rules.require_staff(caller)
        if not id_number.strip():
            raise Forbidden('visit_needs_citizen')
        address = visit_rules.checked_address(address)
        now = self.clock()
        facts = parse_id_number(id_number.strip(), today=now.astimezone(self.settings.tz).date())
        async with self._transaction() as uow:
            citizen = await citizens.find_or_create(
                uow.session, self.cipher, facts, now=now, phone=phone, update_contact=False
            )
            visit = await self._open(
                uow, caller, service_code, address, citizen_id=citizen.id, account_id=None, grant_id=None, now=now
            )
        self._delivered()
        return await self.view(visit)

    async def request_for_grant(self, token: str, *, service_code: str, address: str) -> VisitView:
        """A relative asks on the citizen's behalf, when the citizen's grant lets them fill in (can_fill)."""
        address = visit_rules.checked_address(address)
        access = await self.proxy.access(token)
        grant = access.grant
        if not grant.can_fill:
            raise Forbidden('proxy_view_only')
        proxy = Principal(Kind.PROXY, f'proxy:{grant.id}', Role.PROXY, citizen_id=grant.citizen_id)
        now = self.clock()
        async with self._transaction() as uow:
            visit = await self._open(
                uow,
                proxy,
                service_code,
                address,
                citizen_id=grant.citizen_id,
                account_id=None,
                grant_id=grant.id,
                now=now,
            )
        self._delivered()
        return await self.view(visit)

    async def _open(
        self,
        uow: UnitOfWork,
        caller: Principal,
        service_code: str,
        address: str,
        *,
        citizen_id: int | None,
        account_id: int | None,
        grant_id: int | None,
        now: dt.datetime,
    ) -> HomeVisit:
        s = uow.session
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == service_code))).scalar_one_or_none()
        if service is None or service.id is None:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=service_code[:32])
        await self._require_room(s, citizen_id=citizen_id, account_id=account_id, service_id=service.id)
        case = Case(
            hall_id=self.hall_id,
            code=codes.tracking_code(),
            kind=visit_timeline.CASE_KIND,
            service_id=service.id,
            citizen_id=citizen_id,
            created_by=caller.name[:64],
            created_at=now,
            due_at=close_of_working_days(
                now, visit_timeline.SCHEDULE_WITHIN_DAYS + max(service.sla_days, 1), self.settings.tz
            ),
        )
        s.add(case)
        await s.flush()
        assert case.id is not None
        nodes = visit_timeline.new_nodes(case.id)
        for node in nodes:
            node.department_id = service.department_id
        s.add_all(nodes)
        visit = HomeVisit(
            hall_id=self.hall_id,
            case_id=case.id,
            service_id=service.id,
            department_id=service.department_id,
            citizen_id=citizen_id,
            account_id=account_id,
            grant_id=grant_id,
            address_enc=self.cipher.encrypt(address, context=ADDRESS_CONTEXT),
            requested_by=caller.name[:64],
            requested_at=now,
        )
        s.add(visit)
        await s.flush()
        accept, schedule = visit_timeline.step(nodes, 'accept'), visit_timeline.step(nodes, 'schedule')
        visit_timeline.finish(accept, actor=caller.name, note='', now=now)
        due = close_of_working_days(now, visit_timeline.SCHEDULE_WITHIN_DAYS, self.settings.tz)
        visit_timeline.start(schedule, now=now, due=due)
        await self._changed(uow, caller, visit, case, service, [accept, schedule], 'home_visit_requested', now=now)
        return visit

    async def _require_room(
        self, s: AsyncSession, *, citizen_id: int | None, account_id: int | None, service_id: int
    ) -> None:
        """One open visit per person and service, and OPEN_PER_PERSON in all."""
        mine = [HomeVisit.citizen_id == citizen_id] if citizen_id is not None else []
        mine += [HomeVisit.account_id == account_id] if account_id is not None else []
        rows = await s.execute(
            select(HomeVisit).where(
                HomeVisit.hall_id == self.hall_id, col(HomeVisit.status).in_(OPEN_VISITS), or_(*mine)
            )
        )
        open_visits = list(rows.scalars())
        if any(v.service_id == service_id for v in open_visits):
            raise Conflict('visit_already_requested')
        if len(open_visits) >= OPEN_PER_PERSON:
            raise Conflict('visit_limit', limit=OPEN_PER_PERSON)

    # ---- the hall's side ---------------------------------------------------------------------------

    async def schedule(self, caller: Principal, visit_id: int, *, start: dt.datetime, end: dt.datetime) -> VisitView:
        """Agree a slot (again, before the visit): the people already sent must be free then too."""
        visit_rules.require_staff(caller)
        now = self.clock()
        slot = visit_rules.checked_slot(start, end, now=now)
        async with self._transaction() as uow:
            s = uow.session
            visit, case, service, nodes = await self._load(s, visit_id)
            visit_rules.require_handler(caller, visit)
            if visit.status == VisitStatus.DONE:
                raise Conflict('visit_closed')
            if visit.assignees:
                visit_rules.require_free(visit.assignees, slot, await self._others(s, visit), await self._names(s))
            visit.slot_start, visit.slot_end = slot
            node = visit_timeline.step(nodes, 'schedule')
            moved = [node]
            note = f'上门时间：{_local(slot[0], self)}–{_local(slot[1], self)[-5:]}'
            if visit.status == VisitStatus.REQUESTED:
                visit.status = VisitStatus.SCHEDULED
                visit_timeline.finish(node, actor=caller.name, note=note, now=now)
                assign = visit_timeline.step(nodes, 'assign')
                visit_timeline.start(assign, now=now, due=slot[0])
                moved.append(assign)
            else:
                node.note = note
                for kind, due in (('assign', slot[0]), ('visit', slot[1])):
                    running = visit_timeline.step(nodes, kind)
                    if running.status == 'active':
                        running.due_at = due
                        moved.append(running)
            await self._changed(uow, caller, visit, case, service, moved, 'home_visit_scheduled', now=now)
        self._delivered()
        return await self.view(visit)

    async def assign(self, caller: Principal, visit_id: int, staff_ids: list[int]) -> VisitView:
        """Send one to three staff to the scheduled slot; nobody already booked for an overlapping visit."""
        visit_rules.require_staff(caller)
        wanted = list(dict.fromkeys(staff_ids))
        if not 1 <= len(wanted) <= visit_rules.ASSIGNEES_MAX:
            raise Invalid('visit_staff_count', high=visit_rules.ASSIGNEES_MAX)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            visit, case, service, nodes = await self._load(s, visit_id)
            visit_rules.require_handler(caller, visit)
            if visit.status not in (VisitStatus.SCHEDULED, VisitStatus.ASSIGNED) or visit.slot_start is None:
                raise Conflict('visit_not_scheduled')
            names = await self._names(s)
            if any(person not in names for person in wanted):
                raise NotFound('visit_staff_unknown')
            slot = (_aware(visit.slot_start), _aware(visit.slot_end or visit.slot_start))
            visit_rules.require_free(wanted, slot, await self._others(s, visit), names)
            visit.assignees = wanted
            note = '上门人员：' + '、'.join(names[person] for person in wanted)
            assign = visit_timeline.step(nodes, 'assign')
            moved = [assign]
            if visit.status == VisitStatus.SCHEDULED:
                visit.status = VisitStatus.ASSIGNED
                visit_timeline.finish(assign, actor=caller.name, note=note, now=now)
                go = visit_timeline.step(nodes, 'visit')
                visit_timeline.start(go, now=now, due=slot[1])
                moved.append(go)
            else:
                assign.note = note
            await self._changed(uow, caller, visit, case, service, moved, 'home_visit_assigned', now=now)
        self._delivered()
        return await self.view(visit)

    async def complete(self, caller: Principal, visit_id: int, *, note: str = '') -> VisitView:
        """The visit happened: one of the people sent (or a handler) closes it, and the case concludes."""
        visit_rules.require_staff(caller)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            visit, case, service, nodes = await self._load(s, visit_id)
            if not (caller.is_staff and caller.user_id in visit.assignees):
                visit_rules.require_handler(caller, visit)
            if visit.status != VisitStatus.ASSIGNED:
                raise Conflict('visit_not_assigned')
            visit.status, visit.visited_at = VisitStatus.DONE, now
            go, conclude = visit_timeline.step(nodes, 'visit'), visit_timeline.step(nodes, 'conclude')
            visit_timeline.finish(
                go, actor=caller.name, note=' '.join(note.split())[: visit_timeline.NOTE_MAX], now=now
            )
            visit_timeline.finish(conclude, actor='system', note='', now=now)
            case.status, case.completed_at, case.outcome = CASE_COMPLETED, now, 'visited'
            await self._changed(uow, caller, visit, case, service, [go, conclude], 'home_visit_done', now=now)
        self._delivered()
        return await self.view(visit)

    async def address(self, caller: Principal, visit_id: int) -> str:
        """The whole address, for the people sent and the visit's handlers only; each reading is audited."""
        visit_rules.require_staff(caller)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            visit, *_ = await self._load(s, visit_id)
            if not (caller.is_staff and caller.user_id in visit.assignees):
                visit_rules.require_handler(caller, visit)
            await audit.record_for(s, caller, action='home_visit_address_read', target=f'visit:{visit.id}', now=now)
            return self.cipher.decrypt(visit.address_enc, context=ADDRESS_CONTEXT)

    # ---- reads ---------------------------------------------------------------------------------------

    async def mine(self, caller: Principal) -> list[VisitView]:
        """The signed-in phone's visits (and, once linked, every visit of its citizen), newest first."""
        account_id = caller.require_account()
        mine = [HomeVisit.account_id == account_id]
        if caller.citizen_id is not None:
            mine.append(HomeVisit.citizen_id == caller.citizen_id)
        return await self._views(or_(*mine))

    async def for_grant(self, token: str) -> list[VisitView]:
        """What a relative follows: the visits asked through their grant."""
        access = await self.proxy.access(token)
        return await self._views(HomeVisit.grant_id == access.grant_id)

    async def queue(self, caller: Principal) -> list[VisitView]:
        """Open visits, slot first (unscheduled by request time): a manager's all, a department's its own."""
        visit_rules.require_staff(caller)
        views = await self._views(col(HomeVisit.status).in_(OPEN_VISITS))
        return [view for view in views if visit_rules.may_handle(caller, view.visit)]

    async def people(self, caller: Principal) -> dict[int, str]:
        """Staff who may be sent (active accounts): id -> display name, for the handler's choice."""
        visit_rules.require_staff(caller)
        async with self.db.read_session() as s:
            return await self._names(s)

    async def view(self, visit: HomeVisit) -> VisitView:
        async with self.db.read_session() as s:
            return await self._view(s, visit, await self._names(s))

    async def _views(self, *where: object) -> list[VisitView]:
        async with self.db.read_session() as s:
            rows = await s.execute(select(HomeVisit).where(HomeVisit.hall_id == self.hall_id, *where))
            names = await self._names(s)
            views = [await self._view(s, visit, names) for visit in rows.scalars()]
        return sorted(views, key=_queue_order)

    async def _view(self, s: AsyncSession, visit: HomeVisit, names: dict[int, str]) -> VisitView:
        case = await s.get(Case, visit.case_id)
        assert case is not None
        loaded = await case_views.load(s, case)
        address = self.cipher.decrypt(visit.address_enc, context=ADDRESS_CONTEXT)
        return VisitView(
            visit=visit,
            service_name=loaded.service.name,
            address_masked=visit_rules.masked_address(address),
            assignees=[names.get(person, '') for person in visit.assignees],
            case=loaded,
        )

    # ---- helpers -------------------------------------------------------------------------------------

    async def _load(self, s: AsyncSession, visit_id: int) -> tuple[HomeVisit, Case, ServiceItem, list[CaseNode]]:
        visit = await s.get(HomeVisit, visit_id, with_for_update=True)
        if visit is None or visit.hall_id != self.hall_id:
            raise NotFound('unknown_visit')
        case = await s.get(Case, visit.case_id, with_for_update=True)
        service = await s.get(ServiceItem, visit.service_id)
        assert case is not None and service is not None
        return visit, case, service, await case_views.nodes(s, visit.case_id)

    async def _others(self, s: AsyncSession, visit: HomeVisit) -> list[HomeVisit]:
        rows = await s.execute(
            select(HomeVisit).where(
                HomeVisit.hall_id == self.hall_id,
                HomeVisit.id != visit.id,
                col(HomeVisit.status).in_((VisitStatus.SCHEDULED, VisitStatus.ASSIGNED)),
            )
        )
        return list(rows.scalars())

    @staticmethod
    async def _names(s: AsyncSession) -> dict[int, str]:
        rows = await s.execute(
            select(StaffUser).where(StaffUser.active == True, col(StaffUser.role).in_(STAFF_ROLES))  # noqa: E712
        )
        return {user.id: user.display_name or user.username for user in rows.scalars() if user.id is not None}

    async def _changed(
        self,
        uow: UnitOfWork,
        caller: Principal,
        visit: HomeVisit,
        case: Case,
        service: ServiceItem,
        moved: list[CaseNode],
        action: str,
        *,
        now: dt.datetime,
    ) -> None:
        """The audit row, the citizen's notices, and the events for the timeline pages and the twin."""
        s = uow.session
        await s.flush()
        assert visit.id is not None and case.id is not None
        for node in moved:
            uow.emit(step_event(self.hall_id, case, service, node, actor=caller.name, now=now))
            if node.status == 'active':
                due = _local(node.due_at, self) if node.due_at else ''
                msg = message(Template.CASE_STEP_STARTED_DUE, service=service.name, step=node.name, due=due)
                await notifications.add(
                    s,
                    hall_id=self.hall_id,
                    key=f'case:{case.id}:node:{node.id}:active:{int(node.due_at.timestamp()) if node.due_at else 0}',
                    kind='case_step',
                    message=msg,
                    now=now,
                    case_id=case.id,
                    citizen_id=visit.citizen_id,
                    account_id=visit.account_id,
                )
        uow.emit(visit_changed(visit, service.code, now=now))
        detail = {'status': visit.status, 'service': service.code, 'assignees': list(visit.assignees)}
        if visit.slot_start is not None:
            detail['slot_start'] = _aware(visit.slot_start).isoformat()
        await audit.record_for(s, caller, action=action, target=f'visit:{visit.id}', detail=detail, now=now)


def visit_changed(visit: HomeVisit, service_code: str, *, now: dt.datetime) -> HomeVisitChanged:
    """The visit as the twin's queue shows it (no address, no person): sent on each change, read at start."""
    assert visit.id is not None
    return HomeVisitChanged(
        hall_id=visit.hall_id,
        time=now,
        visit_id=visit.id,
        case_id=visit.case_id,
        service_code=service_code,
        department_id=visit.department_id,
        status=visit.status,
        requested_at=visit.requested_at,
        slot_start=visit.slot_start,
        slot_end=visit.slot_end,
        assignees=len(visit.assignees),
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _local(moment: dt.datetime, service: Service) -> str:
    return _aware(moment).astimezone(service.settings.tz).strftime('%m月%d日 %H:%M')


def _queue_order(view: VisitView) -> tuple[int, dt.datetime, int]:
    """Scheduled visits by their slot, then unscheduled ones by when they were asked."""
    visit = view.visit
    if visit.slot_start is not None:
        return (0, _aware(visit.slot_start), view.id)
    return (1, _aware(visit.requested_at), view.id)
