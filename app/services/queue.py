"""The queue engine: take a number, call it at a window, and every transition after that.

Every transition writes a TicketEvent and an audit row (the keyed chain, app/services/audit.py) in
the same transaction and publishes a typed event after commit. `call_next` is atomic on both
engines: SQLite transactions start with BEGIN IMMEDIATE (app/db.py), PostgreSQL picks the ticket
with SELECT ... FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.bus import Bus
from app.clock import hall_day, utcnow
from app.db import Database
from app.events import (
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketResumed,
    TicketSnapshot,
    TicketTransferred,
    WindowChanged,
    WindowPayload,
)
from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem, Window, WindowService, WindowState
from app.models.operations import WindowEvent
from app.models.people import Citizen, Role
from app.models.ticket import (
    Channel,
    DailyCounter,
    PriorityClass,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketStatus,
)
from app.security import codes
from app.security.crypto import FieldCipher
from app.services import audit, citizens, eta
from app.services.errors import Conflict, Invalid, NotFound
from app.services.identity import IdentityFacts, parse_id_number
from app.services.limits import Limits
from app.services.live_queue import ARRIVAL_WINDOW, RECENT_HANDLING_SAMPLES, LiveQueue, WindowSlot
from app.services.principal import Kind, Principal
from app.services.priority import Candidate, classify
from app.services.reasons import checked_reason
from app.services.ticket_access import ANONYMOUS_IN_HALL, ANONYMOUS_PER_ADDRESS, PHONE_PER_DAY, authorize_take
from app.services.uow import UnitOfWork, unit_of_work
from app.settings import Settings

HANDLING_LOOKBACK = dt.timedelta(days=7)
BUSY_MESSAGE = '请先办结、转移或挂起当前号 / finish, transfer or park the current ticket'
NUMBER_MAX = 8  # the same caps as the API's bodies (app/api/schemas.py), so a page cannot pass more
SERVICE_CODE_MAX = 32


@dataclass(frozen=True)
class TicketView:
    """A ticket with what a citizen wants to know: where they stand and how long it may take."""

    ticket: Ticket
    service: ServiceItem
    window_number: int | None
    position: int | None
    estimate: eta.Estimate | None


@dataclass(frozen=True)
class ServiceQueue:
    service: ServiceItem
    waiting: int
    estimate: eta.Estimate | None
    oldest_queued_at: dt.datetime | None


@dataclass(frozen=True)
class WindowView:
    window: Window
    service_ids: dict[int, int]
    current: Ticket | None


@dataclass(frozen=True)
class HallOverview:
    windows: list[WindowView]
    queues: list[ServiceQueue]


class QueueService:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        settings: Settings,
        cipher: FieldCipher,
        limits: Limits,
        *,
        hall_id: int,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.bus = bus
        self.settings = settings
        self.cipher = cipher
        self.limits = limits
        self.hall_id = hall_id
        self.clock = clock
        self.live: LiveQueue | None = None

    def _transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.db, self.bus, apply_first=self.live.apply if self.live else None)

    @property
    def fairness_cap(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.settings.fairness_cap_minutes)

    # ---- taking a number -------------------------------------------------------------------

    async def take_ticket(
        self,
        request: TicketCreate,
        *,
        caller: Principal,
        also: Callable[[AsyncSession, Ticket], Awaitable[None]] | None = None,
    ) -> TicketView:
        """Issue a number; what the caller may ask for (identity, channel, flags) is `authorize_take`'s rule.

        `also` writes the caller's own rows for the new ticket in the same transaction (both or neither)."""
        rights = authorize_take(caller, request)
        if rights.limited:
            await self.limits.hit(ANONYMOUS_PER_ADDRESS, caller.address)
            await self.limits.hit(ANONYMOUS_IN_HALL, str(self.hall_id))
        if request.phone:
            await self.limits.hit(PHONE_PER_DAY, request.phone[-11:])
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            service = await self._service_by_code(s, request.service_code)
            if not await self._is_served(s, service.id):
                raise Conflict('service_unavailable', name=service.name)
            today = hall_day(now, self.settings.tz)
            facts = parse_id_number(request.id_number, today=today) if request.id_number else None
            appointment = (
                await self._check_in(s, request.appointment_code, service) if request.appointment_code else None
            )
            decision = classify(
                age=facts.age_on(today) if facts and rights.verified_identity else None,
                elderly_age=self.settings.elderly_age,
                disability=request.disability,
                pregnancy=request.pregnancy,
                appointment_slot=(appointment.slot_start, appointment.slot_end) if appointment else None,
                now=now,
                early_minutes=self.settings.appointment_early_minutes,
            )
            citizen = await self._citizen(s, request, facts, now, verified=rights.verified_identity)
            seq = await self._next_sequence(s, today, service.ticket_prefix)
            ticket = Ticket(
                hall_id=self.hall_id,
                service_id=service.id,
                day=today,
                number=f'{service.ticket_prefix}{seq:03d}',
                code=codes.tracking_code(),
                channel=request.channel,
                priority_class=decision.priority_class,
                priority_reason=decision.reason,
                taken_at=now,
                queued_at=now,
                citizen_id=citizen.id if citizen else None,
                appointment_id=appointment.id if appointment else None,
            )
            s.add(ticket)
            await s.flush()
            if appointment:
                appointment.status = AppointmentStatus.CHECKED_IN
                appointment.ticket_id = ticket.id
            await self._record(
                uow,
                ticket,
                'issued',
                None,
                caller=caller,
                event=TicketIssued,
                detail=_issue_detail(request, caller, decision.reason),
            )
            if also is not None:
                await also(s, ticket)
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def _citizen(
        self, s: AsyncSession, request: TicketCreate, facts: IdentityFacts | None, now: dt.datetime, *, verified: bool
    ) -> Citizen | None:
        """The ticket's citizen; a stored citizen's contact changes only on a verified identity."""
        if facts:
            return await citizens.find_or_create(
                s, self.cipher, facts, now=now, phone=request.phone, name=request.name, update_contact=verified
            )
        if request.phone:
            return await citizens.record_contact(s, self.cipher, now=now, phone=request.phone, name=request.name)
        return None

    async def _check_in(self, s: AsyncSession, payload: str, service: ServiceItem) -> Appointment:
        reference = codes.verify(self.settings.secret, 'appt', payload)
        appointment = (
            await s.execute(select(Appointment).where(Appointment.reference == reference).with_for_update())
        ).scalar_one_or_none()
        if appointment is None or appointment.hall_id != self.hall_id:
            raise NotFound('unknown_appointment')
        if appointment.service_id != service.id:
            raise Invalid('appointment_service_mismatch')
        if appointment.status != AppointmentStatus.BOOKED:
            raise Conflict('appointment_used')
        return appointment

    async def _next_sequence(self, s: AsyncSession, day: dt.date, prefix: str) -> int:
        dialect = sqlite if self.db.is_sqlite else postgresql
        statement = dialect.insert(DailyCounter).values(hall_id=self.hall_id, day=day, prefix=prefix, last=1)
        statement = statement.on_conflict_do_update(
            index_elements=['hall_id', 'day', 'prefix'],
            set_={'last': DailyCounter.last + 1},
        ).returning(DailyCounter.last)
        return (await s.execute(statement)).scalar_one()

    # ---- calling -----------------------------------------------------------------------------

    async def call_next(self, window_id: int, *, caller: Principal) -> TicketView:
        caller.require_window(window_id)
        now = self.clock()
        async with self._transaction() as uow:
            window = await self._open_free_window(uow.session, window_id)
            ticket = await self._pick_next(uow.session, window, now)
            if ticket is None:
                raise NotFound('queue_empty')
            await self._call(uow, ticket, window, now, caller=caller)
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def call_ticket(self, window_id: int, number: str, *, reason: str, caller: Principal) -> TicketView:
        """Out-of-order call of a named ticket; the reason is required and recorded."""
        caller.require_window(window_id)
        reason = checked_reason(reason, required=True)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            window = await self._open_free_window(s, window_id)
            ticket = await self._ticket_by_number(s, number, now)
            if ticket.status != TicketStatus.WAITING:
                raise Conflict('ticket_not_waiting', number=ticket.number)
            if ticket.target_window_id is not None and ticket.target_window_id != window.id:
                raise Conflict(
                    'ticket_for_another_window', number=ticket.number
                )
            await self._require_serves(s, window, ticket.service_id)
            await self._call(uow, ticket, window, now, caller=caller, reason=reason, out_of_order=True)
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def _pick_next(self, s: AsyncSession, window: Window, now: dt.datetime) -> Ticket | None:
        overdue = Ticket.queued_at <= now - self.fairness_cap
        class_rank = case(
            (Ticket.priority_class == PriorityClass.GREEN, PriorityClass.GREEN.rank),
            (Ticket.priority_class == PriorityClass.APPOINTMENT, PriorityClass.APPOINTMENT.rank),
            else_=PriorityClass.NORMAL.rank,
        )
        statement = (
            select(Ticket)
            .join(
                WindowService, and_(WindowService.service_id == Ticket.service_id, WindowService.window_id == window.id)
            )
            .where(
                Ticket.hall_id == self.hall_id,
                Ticket.status == TicketStatus.WAITING,
                or_(col(Ticket.target_window_id).is_(None), Ticket.target_window_id == window.id),
            )
            .order_by(
                case((overdue, 0), else_=1),
                case((overdue, 0), else_=WindowService.priority),
                case((overdue, 0), else_=class_rank),
                Ticket.queued_at,
                Ticket.id,
            )
            .limit(1)
            .with_for_update(skip_locked=True, of=Ticket)
        )
        return (await s.execute(statement)).scalar_one_or_none()

    async def _call(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        window: Window,
        now: dt.datetime,
        *,
        caller: Principal,
        reason: str = '',
        out_of_order: bool = False,
    ) -> None:
        previous = ticket.status
        ticket.status = TicketStatus.CALLED
        ticket.window_id = window.id
        ticket.target_window_id = None
        ticket.called_at = now
        ticket.first_called_at = ticket.first_called_at or now
        window.current_ticket_id = ticket.id
        kind = 'called_out_of_order' if out_of_order else ('resumed' if previous == TicketStatus.PARKED else 'called')
        event = TicketResumed if previous == TicketStatus.PARKED else TicketCalled
        extra: dict[str, Any] = {'out_of_order': True} if out_of_order else {}
        await self._record(
            uow, ticket, kind, previous, caller=caller, window=window, reason=reason, event=event, event_fields=extra
        )

    async def recall(self, window_id: int, *, caller: Principal) -> TicketView:
        """Call the current ticket again: `recalls_before_no_show` times in its life, each after the interval."""
        caller.require_window(window_id)
        async with self._transaction() as uow:
            window, ticket = await self._window_and_current(uow.session, window_id)
            limit = self.settings.recalls_before_no_show
            if ticket.recall_count >= limit:
                raise Conflict('recall_limit', limit=limit)
            await self._require_interval(uow.session, ticket, 'recall_too_soon')
            ticket.recall_count += 1
            await self._record(
                uow,
                ticket,
                'recalled',
                ticket.status,
                caller=caller,
                window=window,
                event=TicketCalled,
                event_fields={'recall': True},
                detail={'recall_count': ticket.recall_count},
            )
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def no_show(self, window_id: int, *, caller: Principal) -> TicketView:
        caller.require_window(window_id)
        async with self._transaction() as uow:
            window, ticket = await self._window_and_current(uow.session, window_id)
            limit = self.settings.recalls_before_no_show
            if ticket.recall_count < limit:
                raise Conflict('recall_first', limit=limit)
            await self._require_interval(uow.session, ticket, 'no_show_too_soon')
            ticket.status = TicketStatus.NO_SHOW
            ticket.completed_at = self.clock()
            window.current_ticket_id = None
            await self._record(
                uow, ticket, 'no_show', TicketStatus.CALLED, caller=caller, window=window, event=TicketNoShow
            )
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def complete(self, window_id: int, *, caller: Principal) -> TicketView:
        caller.require_window(window_id)
        now = self.clock()
        async with self._transaction() as uow:
            window, ticket = await self._window_and_current(uow.session, window_id)
            ticket.status = TicketStatus.COMPLETED
            ticket.completed_at = now
            window.current_ticket_id = None
            await self._record(
                uow, ticket, 'completed', TicketStatus.CALLED, caller=caller, window=window, event=TicketCompleted
            )
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def transfer(
        self,
        window_id: int,
        *,
        to_service_code: str | None = None,
        to_window_id: int | None = None,
        reason: str = '',
        caller: Principal,
    ) -> TicketView:
        """Send the current ticket to another service and/or an open window; it keeps its place in time.

        Its recalls go with it (a transfer never buys more recalls), and a target must be able to call it:
        not this window, not a closed or paused one, and for a service alone some open window serving it.
        """
        caller.require_window(window_id)
        reason = checked_reason(reason, required=False)
        if to_service_code is None and to_window_id is None:
            raise Invalid('transfer_target_required')
        if to_service_code is not None and len(to_service_code) > SERVICE_CODE_MAX:
            raise Invalid(
                'service_code_too_long', SERVICE_CODE_MAX=SERVICE_CODE_MAX
            )
        if to_window_id == window_id:
            raise Conflict('transfer_same_window')
        async with self._transaction() as uow:
            s = uow.session
            window, ticket = await self._window_and_current(s, window_id)
            service = (
                await self._service_by_code(s, to_service_code)
                if to_service_code
                else await s.get(ServiceItem, ticket.service_id)
            )
            assert service is not None and service.id is not None
            if to_window_id is not None:
                target = await self._window(s, to_window_id)
                if target.state != WindowState.OPEN:
                    raise Conflict(
                        'transfer_target_closed', number=target.number, state=target.state,
                    )
                await self._require_serves(s, target, service.id)
            elif not await self._is_served(s, service.id, open_only=True):
                raise Conflict(
                    'service_unavailable', text='service_unavailable.queue', name=service.name
                )
            from_service_id, from_window_id = ticket.service_id, window.id
            ticket.service_id = service.id
            ticket.status = TicketStatus.WAITING
            ticket.window_id = None
            ticket.target_window_id = to_window_id
            ticket.called_at = None
            ticket.transfer_count += 1
            window.current_ticket_id = None
            await self._record(
                uow,
                ticket,
                'transferred',
                TicketStatus.CALLED,
                caller=caller,
                window=window,
                reason=reason,
                event=TicketTransferred,
                event_fields={'from_service_id': from_service_id, 'from_window_id': from_window_id},
                detail={'from_service_id': from_service_id, 'to_window_id': to_window_id},
            )
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def park(self, window_id: int, *, reason: str = '', caller: Principal) -> TicketView:
        """Put the current ticket on hold (e.g. to fetch a missing document); the window is free again."""
        caller.require_window(window_id)
        reason = checked_reason(reason, required=False)
        async with self._transaction() as uow:
            window, ticket = await self._window_and_current(uow.session, window_id)
            ticket.status = TicketStatus.PARKED
            ticket.target_window_id = window.id
            window.current_ticket_id = None
            await self._record(
                uow,
                ticket,
                'parked',
                TicketStatus.CALLED,
                caller=caller,
                window=window,
                reason=reason,
                event=TicketParked,
            )
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    async def resume(self, window_id: int, number: str, *, caller: Principal) -> TicketView:
        """Call a parked ticket straight back to the window that parked it."""
        caller.require_window(window_id)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            window = await self._open_free_window(s, window_id)
            ticket = await self._ticket_by_number(s, number, now)
            if ticket.status != TicketStatus.PARKED or ticket.target_window_id != window.id:
                raise Conflict('ticket_not_parked_here', number=ticket.number)
            await self._call(uow, ticket, window, now, caller=caller)
            settled = await self._settled(uow.session, ticket)
        return settled or await self.ticket_view(ticket.code)

    # ---- windows -----------------------------------------------------------------------------

    async def set_window_state(self, window_id: int, state: WindowState, *, caller: Principal) -> Window:
        caller.require_window(window_id)
        async with self._transaction() as uow:
            s = uow.session
            window = await self._window(s, window_id, lock=True)
            if state != WindowState.OPEN and window.current_ticket_id is not None:
                raise Conflict('window_busy', BUSY_MESSAGE)
            if window.state != state:
                before = window.state
                window.state = state
                await self._record_window(uow, window, 'state', before, caller=caller)
                uow.emit(
                    WindowChanged(
                        hall_id=self.hall_id, actor=caller.name, payload=await self._window_payload(s, window)
                    )
                )
        return window

    async def set_window_services(self, window_id: int, services: dict[str, int], *, caller: Principal) -> Window:
        """Replace what a window serves ({service code: tier}); used by staffing moves (managers)."""
        caller.require(Role.MANAGER)
        if not services:
            raise Invalid('services_required')
        async with self._transaction() as uow:
            s = uow.session
            window = await self._window(s, window_id, lock=True)
            wanted = {(await self._service_by_code(s, code)).id: tier for code, tier in services.items()}
            current = {
                link.service_id: link
                for link in (
                    await s.execute(select(WindowService).where(WindowService.window_id == window_id))
                ).scalars()
            }
            for service_id, link in current.items():
                if service_id not in wanted:
                    await s.delete(link)
            for service_id, tier in wanted.items():
                if service_id in current:
                    current[service_id].priority = tier
                else:
                    s.add(WindowService(window_id=window_id, service_id=service_id, priority=tier))
            await s.flush()
            await self._record_window(uow, window, 'services', window.state, caller=caller, detail=services)
            uow.emit(
                WindowChanged(hall_id=self.hall_id, actor=caller.name, payload=await self._window_payload(s, window))
            )
        return window

    # ---- reads -------------------------------------------------------------------------------

    async def ticket_view(self, code: str) -> TicketView:
        async with self.db.read_session() as s:
            ticket = (await s.execute(select(Ticket).where(Ticket.code == code))).scalar_one_or_none()
            if ticket is None:
                raise NotFound('unknown_ticket')
            return await self._view(s, ticket)

    async def ticket_view_by_id(self, ticket_id: int) -> TicketView:
        async with self.db.read_session() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound('unknown_ticket')
            return await self._view(s, ticket)

    async def _settled(self, s: AsyncSession, ticket: Ticket) -> TicketView | None:
        """The ticket's view from what the transaction already holds, so no read follows the write.

        A waiting ticket needs its position and estimate: from the live queue state when there is one;
        without it (tests, scripts) the view is read after commit instead (None here).
        """
        if ticket.status == TicketStatus.WAITING and self.live is None:
            return None
        return await self._view(s, ticket)

    async def _view(self, s: AsyncSession, ticket: Ticket) -> TicketView:
        service = await s.get(ServiceItem, ticket.service_id)
        assert service is not None
        window = await s.get(Window, ticket.window_id) if ticket.window_id else None
        position = estimate = None
        if ticket.status == TicketStatus.WAITING:
            live = self.live or await self.live_state(s)
            mine = Candidate(ticket.id or 0, PriorityClass(ticket.priority_class), ticket.queued_at, 1)
            ahead = live.ahead_of(mine, ticket.service_id, now=self.clock(), cap=self.fairness_cap)
            position = ahead + 1
            estimate = live.estimate(ticket.service_id, ahead)
        return TicketView(ticket, service, window.number if window else None, position, estimate)

    async def overview(self) -> HallOverview:
        async with self.db.read_session() as s:
            live = self.live or await self.live_state(s)
            windows = list(
                (
                    await s.execute(select(Window).where(Window.hall_id == self.hall_id).order_by(Window.number))
                ).scalars()
            )
            links = await self._links(s)
            current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
            current = (
                {t.id: t for t in (await s.execute(select(Ticket).where(col(Ticket.id).in_(current_ids)))).scalars()}
                if current_ids
                else {}
            )
        queues = [
            ServiceQueue(
                service=service,
                waiting=live.waiting_count(sid),
                estimate=live.estimate(sid, live.waiting_count(sid)),
                oldest_queued_at=live.oldest(sid),
            )
            for sid, service in sorted(live.services.items(), key=lambda item: item[1].code)
        ]
        return HallOverview(
            windows=[WindowView(w, links.get(w.id or 0, {}), current.get(w.current_ticket_id or 0)) for w in windows],
            queues=queues,
        )

    async def live_state(self, s: AsyncSession) -> LiveQueue:
        """The queues as the database has them now (the starting point of a LiveQueue fed by events)."""
        now = self.clock()
        services = {svc.id: svc for svc in (await s.execute(select(ServiceItem))).scalars() if svc.id is not None}
        links = await self._links(s)
        windows = list((await s.execute(select(Window).where(Window.hall_id == self.hall_id))).scalars())
        current_ids = [w.current_ticket_id for w in windows if w.current_ticket_id]
        current = {
            ticket_id: (called_at, service_id)
            for ticket_id, called_at, service_id in await s.execute(
                select(Ticket.id, Ticket.called_at, Ticket.service_id).where(col(Ticket.id).in_(current_ids))
            )
        }
        slots = {
            w.id: WindowSlot(links.get(w.id, {}), w.state, w.current_ticket_id, *current.get(w.current_ticket_id, ()))
            for w in windows
            if w.id
        }
        waiting: dict[int, dict[int, Candidate]] = defaultdict(dict)
        rows = await s.execute(
            select(Ticket.id, Ticket.service_id, Ticket.priority_class, Ticket.queued_at).where(
                Ticket.hall_id == self.hall_id, Ticket.status == TicketStatus.WAITING
            )
        )
        for ticket_id, service_id, priority_class, queued_at in rows:
            waiting[service_id][ticket_id] = Candidate(ticket_id, PriorityClass(priority_class), queued_at, 1)
        recent: dict[int, deque[float]] = defaultdict(lambda: deque(maxlen=RECENT_HANDLING_SAMPLES))
        handled = await s.execute(
            select(Ticket.service_id, Ticket.called_at, Ticket.completed_at)
            .where(
                Ticket.hall_id == self.hall_id,
                Ticket.status == TicketStatus.COMPLETED,
                col(Ticket.completed_at) >= now - HANDLING_LOOKBACK,
            )
            .order_by(col(Ticket.completed_at).desc())
            .limit(RECENT_HANDLING_SAMPLES * max(1, len(services)))
        )
        for service_id, called_at, completed_at in handled:
            if called_at and completed_at:
                recent[service_id].append((completed_at - called_at).total_seconds() / 60)
        arrived = await s.execute(
            select(Ticket.id, Ticket.service_id, Ticket.taken_at, Ticket.priority_class).where(
                Ticket.hall_id == self.hall_id, col(Ticket.taken_at) >= now - ARRIVAL_WINDOW
            )
        )
        arrivals = {
            ticket_id: (service_id, taken_at, priority_class == PriorityClass.GREEN)
            for ticket_id, service_id, taken_at, priority_class in arrived
        }
        return LiveQueue(
            services,
            slots,
            dict(waiting),
            dict(recent),
            arrivals,
            clock=self.clock,
            cap_minutes=self.settings.fairness_cap_minutes,
        )

    async def start_live(self) -> LiveQueue:
        """Keep the queues in memory, fed by the bus, so estimates cost no query (and pages read no DB)."""
        self.live = await self.load_live()
        self.bus.subscribe(self.live.apply, name='live-queue')
        return self.live

    async def resync_live(self) -> None:
        """Re-read the live queues from the database (the bus came back after an outage)."""
        if self.live is not None:
            self.live.resync(await self.load_live())

    async def load_live(self) -> LiveQueue:
        async with self.db.read_session() as s:
            return await self.live_state(s)

    async def _links(self, s: AsyncSession) -> dict[int, dict[int, int]]:
        links: dict[int, dict[int, int]] = defaultdict(dict)
        for link in (await s.execute(select(WindowService))).scalars():
            links[link.window_id][link.service_id] = link.priority
        return links

    # ---- helpers -----------------------------------------------------------------------------

    async def _service_by_code(self, s: AsyncSession, code: str) -> ServiceItem:
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == code))).scalar_one_or_none()
        if service is None:
            raise NotFound('unknown_service', text='unknown_service.queue', code_value=code)
        return service

    async def _is_served(self, s: AsyncSession, service_id: int | None, *, open_only: bool = False) -> bool:
        statement = (
            select(func.count())
            .select_from(WindowService)
            .join(Window)
            .where(WindowService.service_id == service_id, Window.hall_id == self.hall_id)
        )
        if open_only:
            statement = statement.where(Window.state == WindowState.OPEN)
        return (await s.execute(statement)).scalar_one() > 0

    async def _require_interval(self, s: AsyncSession, ticket: Ticket, code: str) -> None:
        """Refuse a recall or no-show until `recall_interval_seconds` have passed since the ticket was last called."""
        last_recall = (
            await s.execute(
                select(func.max(TicketEvent.at)).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind == 'recalled'
                )
            )
        ).scalar_one_or_none()
        moments = [m for m in (ticket.called_at, last_recall) if m is not None]
        if not moments:
            return
        last = max(_aware(m) for m in moments)
        wait = self.settings.recall_interval_seconds - (self.clock() - last).total_seconds()
        if wait > 0:
            raise Conflict(code, text='too_soon', seconds=math.ceil(wait))

    async def _require_serves(self, s: AsyncSession, window: Window, service_id: int) -> None:
        link = await s.get(WindowService, (window.id, service_id))
        if link is None:
            raise Conflict('service_not_served', number=window.number)

    async def _window(self, s: AsyncSession, window_id: int, *, lock: bool = False) -> Window:
        statement = select(Window).where(Window.id == window_id, Window.hall_id == self.hall_id)
        window = (await s.execute(statement.with_for_update() if lock else statement)).scalar_one_or_none()
        if window is None:
            raise NotFound('unknown_window', window_id=window_id)
        return window

    async def _open_free_window(self, s: AsyncSession, window_id: int) -> Window:
        window = await self._window(s, window_id, lock=True)
        if window.state != WindowState.OPEN:
            raise Conflict('window_not_open', number=window.number, state=window.state)
        if window.current_ticket_id is not None:
            raise Conflict('window_busy', BUSY_MESSAGE)
        return window

    async def _window_and_current(self, s: AsyncSession, window_id: int) -> tuple[Window, Ticket]:
        window = await self._window(s, window_id, lock=True)
        ticket = (
            await s.get(Ticket, window.current_ticket_id, with_for_update=True) if window.current_ticket_id else None
        )
        if ticket is None or ticket.status != TicketStatus.CALLED:
            raise Conflict('no_current_ticket', number=window.number)
        return window, ticket

    async def _ticket_by_number(self, s: AsyncSession, number: str, now: dt.datetime) -> Ticket:
        if len(number.strip()) > NUMBER_MAX:
            raise Invalid('number_too_long', NUMBER_MAX=NUMBER_MAX)
        day = hall_day(now, self.settings.tz)
        ticket = (
            await s.execute(
                select(Ticket)
                .where(
                    Ticket.hall_id == self.hall_id,
                    Ticket.day == day,
                    Ticket.number == number.strip().upper(),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if ticket is None:
            raise NotFound('unknown_ticket', text='unknown_ticket.queue', number=number)
        return ticket

    async def _window_payload(self, s: AsyncSession, window: Window) -> WindowPayload:
        ids = (await s.execute(select(WindowService.service_id).where(WindowService.window_id == window.id))).scalars()
        return WindowPayload(
            id=window.id or 0,
            number=window.number,
            state=window.state,
            service_ids=sorted(ids),
            current_ticket_id=window.current_ticket_id,
        )

    async def _record_window(
        self,
        uow: UnitOfWork,
        window: Window,
        kind: str,
        before: WindowState,
        *,
        caller: Principal,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write the WindowEvent row that lets replay show the window's state at any moment, and its audit row."""
        assert window.id is not None
        now = self.clock()
        uow.session.add(
            WindowEvent(
                hall_id=self.hall_id,
                window_id=window.id,
                at=now,
                kind=kind,
                from_state=before,
                to_state=window.state,
                detail=dict(detail or {}),
                actor=caller.name[:64],
            )
        )
        audited: dict[str, Any] = {'window_id': window.id, 'from': before, 'to': window.state}
        await audit.record(
            uow.session,
            actor=caller.name,
            role=caller.role,
            client_address=caller.address,
            action=audit.window_action(kind),
            target=f'window:{window.number}',
            detail={**audited, 'detail': detail} if detail else audited,
            now=now,
        )

    async def _record(
        self,
        uow: UnitOfWork,
        ticket: Ticket,
        kind: str,
        from_status: TicketStatus | None,
        *,
        caller: Principal,
        event: type[TicketEventBase],
        window: Window | None = None,
        reason: str = '',
        detail: dict[str, Any] | None = None,
        event_fields: dict[str, Any] | None = None,
    ) -> None:
        """Write the TicketEvent row and its audit row (one transaction), and queue the bus event for after commit.

        The audit row is the transaction's last write: on PostgreSQL it holds the chain's lock until commit.
        """
        now = self.clock()
        assert ticket.id is not None
        service = await uow.session.get(ServiceItem, ticket.service_id)
        assert service is not None
        uow.session.add(
            TicketEvent(
                ticket_id=ticket.id,
                hall_id=self.hall_id,
                kind=kind,
                at=now,
                actor=caller.name,
                window_id=window.id if window else ticket.window_id,
                service_id=ticket.service_id,
                from_status=from_status,
                to_status=ticket.status,
                reason=reason,
                detail=detail or {},
            )
        )
        await audit.record(
            uow.session,
            actor=caller.name,
            role=caller.role,
            client_address=caller.address,
            action=audit.ticket_action(kind),
            target=f'ticket:{ticket.number}',
            detail=_audit_detail(ticket, service, window, from_status, reason, detail),
            now=now,
        )
        snapshot = snapshot_of(ticket, service_code=service.code, window_number=window.number if window else None)
        uow.emit(
            event(
                hall_id=self.hall_id,
                time=now,
                payload=snapshot,
                actor=caller.name,
                reason=reason,
                **(event_fields or {}),
            )
        )


def _issue_detail(request: TicketCreate, caller: Principal, priority_reason: str) -> dict[str, Any]:
    """What the issue row records of how the person was identified (a typed number is marked, with its clerk)."""
    detail: dict[str, Any] = {'channel': request.channel.value, 'priority_reason': priority_reason}
    if request.id_number and caller.kind == Kind.KIOSK and request.channel == Channel.KIOSK:
        detail['identity'] = 'typed'
    if caller.assisted_by:
        detail['assisted_by'] = caller.assisted_by
    return detail


AUDITED_DETAIL = ('channel', 'recall_count', 'from_service_id', 'to_window_id')  # never priority reasons (health)


def _audit_detail(
    ticket: Ticket,
    service: ServiceItem,
    window: Window | None,
    from_status: TicketStatus | None,
    reason: str,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    """What the audit row says of a transition: which ticket, where, from what to what, and why.

    Only named fields of the ticket event's detail go in: a priority reason tells of age, disability or
    pregnancy and stays out of the audit log.
    """
    audited: dict[str, Any] = {
        'ticket_id': ticket.id,
        'service': service.code,
        'from': from_status,
        'to': ticket.status,
        **{key: value for key, value in (detail or {}).items() if key in AUDITED_DETAIL},
    }
    if window is not None:
        audited['window'] = window.number
    if reason:
        audited['reason'] = reason
    return audited


def snapshot_of(ticket: Ticket, *, service_code: str, window_number: int | None) -> TicketSnapshot:
    handling = None
    if ticket.status == TicketStatus.COMPLETED and ticket.called_at and ticket.completed_at:
        handling = (ticket.completed_at - ticket.called_at).total_seconds()
    return TicketSnapshot(
        id=ticket.id or 0,
        number=ticket.number,
        service_id=ticket.service_id,
        service_code=service_code,
        status=ticket.status,
        priority_class=ticket.priority_class,
        queued_at=ticket.queued_at,
        taken_at=ticket.taken_at,
        called_at=ticket.called_at,
        completed_at=ticket.completed_at,
        window_id=ticket.window_id,
        window_number=window_number,
        target_window_id=ticket.target_window_id,
        recall_count=ticket.recall_count,
        handling_seconds=handling,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
