"""The queue engine: take a number, call it at a window, and every transition after that.

Every transition writes a TicketEvent and an audit row (the keyed chain, app/services/audit.py) in
the same transaction and publishes a typed event after commit. `call_next` is atomic on both
engines: SQLite transactions start with BEGIN IMMEDIATE (app/db.py), PostgreSQL picks the ticket
with SELECT ... FOR UPDATE SKIP LOCKED.

This module holds the commands; `QueueService` also answers reads (app/services/queue_views.py) and
administers windows (app/services/windows_admin.py), over what app/services/queue_core.py shares.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, func, insert
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.events import (
    TicketArrived,
    TicketCalled,
    TicketCompleted,
    TicketEventBase,
    TicketIssued,
    TicketNoShow,
    TicketParked,
    TicketPrioritised,
    TicketResumed,
    TicketSnapshot,
    TicketTransferred,
)
from app.models.appointment import Appointment, AppointmentStatus
from app.models.hall import ServiceItem, Window, WindowService, WindowState
from app.models.people import Citizen
from app.models.rows import columns_of, loaded, new_row, width
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
from app.services import audit, citizens, green_channel, queue_pick, rating_invites, remote_queue
from app.services.booking import appointment_changed
from app.services.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.services.identity import IdentityFacts, parse_id_number
from app.services.limits import Limit
from app.services.principal import Kind, Principal
from app.services.priority import classify
from app.services.queue_core import write_row
from app.services.queue_views import HallOverview, QueueViews, ServiceQueue, TicketView, WindowView
from app.services.reasons import checked_reason
from app.services.ticket_access import (
    ANONYMOUS_IN_HALL,
    ANONYMOUS_PER_ADDRESS,
    PHONE_PER_DAY,
    TakeRights,
    authorize_take,
)
from app.services.uow import UnitOfWork
from app.services.window_hours import is_open_at, periods_of
from app.services.windows_admin import WindowsAdmin

__all__ = [
    'NUMBER_MAX',
    'SERVICE_CODE_MAX',
    'HallOverview',
    'QueueService',
    'ServiceQueue',
    'TicketView',
    'WindowView',
]


def _next_number(dialect: Any) -> Any:
    """The day's next number of a prefix: an upsert of its counter, returning the new value (built once)."""
    columns = DailyCounter.__table__.c  # type: ignore[attr-defined]
    # On the table, not the model: a model's INSERT takes the ORM's bulk path, twice the cost of this statement.
    statement = dialect.insert(DailyCounter.__table__).values(
        hall_id=bindparam('hall_id', type_=columns.hall_id.type),
        day=bindparam('day', type_=columns.day.type),
        prefix=bindparam('prefix', type_=columns.prefix.type),
        last=1,
    )
    return statement.on_conflict_do_update(
        index_elements=['hall_id', 'day', 'prefix'], set_={'last': columns.last + 1}
    ).returning(columns.last)


NEXT_NUMBER_SQLITE = _next_number(sqlite)
NEXT_NUMBER_POSTGRESQL = _next_number(postgresql)
TICKET_EVENT_INSERT = insert(TicketEvent.__table__)  # type: ignore[attr-defined]  # built once, bound per row
# A new ticket goes in as a plain INSERT ... RETURNING id, every column bound (the table has no server defaults):
# the ORM's flush of one new object costs more than the statement itself, and nothing here needs it tracked.
TICKET_COLUMNS = tuple(c.name for c in Ticket.__table__.columns if c.name != 'id')  # type: ignore[attr-defined]
TICKET_INSERT = insert(Ticket.__table__).returning(Ticket.__table__.c.id)  # type: ignore[attr-defined]
# The rows a call or a complete locks are read by Core, every column (app/models/rows.py `loaded`), and written by
# Core UPDATEs (`write_row`): the ORM's loading of them cost more than the statements themselves.
_WINDOW, _TICKET, _SERVICE, _WINDOW_SERVICE = (
    model.__table__  # type: ignore[attr-defined]
    for model in (Window, Ticket, ServiceItem, WindowService)
)
WINDOW_TO_CALL = (  # every call: built once, bound per call
    core_select(*columns_of(Window))
    .where(_WINDOW.c.id == bindparam('window_id'), _WINDOW.c.hall_id == bindparam('hall_id'))
    .with_for_update()
)
WINDOW_AND_CURRENT = (  # every complete, recall, park and transfer: built once, bound per call
    core_select(*columns_of(Window, Ticket, ServiceItem))
    .join_from(_WINDOW, _TICKET, _TICKET.c.id == _WINDOW.c.current_ticket_id)
    .join(_SERVICE, _SERVICE.c.id == _TICKET.c.service_id)
    .where(
        _WINDOW.c.id == bindparam('window_id'),
        _WINDOW.c.hall_id == bindparam('hall_id'),
        _TICKET.c.status == TicketStatus.CALLED,
    )
    .with_for_update(of=[_WINDOW, _TICKET])
)
NUMBER_MAX = 8  # the same caps as the API's bodies (app/api/schemas.py), so a page cannot pass more
SERVICE_CODE_MAX = 32


class QueueService(QueueViews, WindowsAdmin):
    """Commands here; reads, window administration and the live queue state come from the parts it is built on."""

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
        hits: list[tuple[Limit, str]] = []
        if rights.limited:
            hits += [(ANONYMOUS_PER_ADDRESS, caller.address), (ANONYMOUS_IN_HALL, str(self.hall_id))]
        if request.phone:
            hits.append((PHONE_PER_DAY, request.phone[-11:]))
        counted_here = bool(hits) and self.limits.counts_in(self.db)  # in the ticket's own commit, not one more
        if hits and not counted_here:
            await self.limits.hit_all(hits)
        try:
            async with self._transaction() as uow:
                if counted_here:
                    await self.limits.hit_all_in(uow.session, hits)
                ticket, settled = await self._issue(uow, request, rights, caller=caller, also=also)
        except DomainError:
            if counted_here:  # rolled back with the refused take: the attempt counts all the same, as it always did
                await self.limits.hit_all(hits)
            raise
        return settled or await self.ticket_view(ticket.code)

    async def _issue(
        self,
        uow: UnitOfWork,
        request: TicketCreate,
        rights: TakeRights,
        *,
        caller: Principal,
        also: Callable[[AsyncSession, Ticket], Awaitable[None]] | None,
    ) -> tuple[Ticket, TicketView | None]:
        """Write the ticket (and what `also` adds) in the take's transaction; its view when the transaction holds it."""
        now = self.clock()
        s = uow.session
        service, served = await self._service_and_served(s, request.service_code, open_only=rights.remote)
        if not served:
            raise Conflict('service_unavailable', name=service.name)
        today = hall_day(now, self.settings.tz)
        if rights.remote:
            remote_queue.require_hall_hours(now, self.settings.tz)
            account_id = caller.require_account()
            await remote_queue.check_remote_take(
                s, account_id=account_id, service=service, day=today, settings=self.settings
            )
        facts = parse_id_number(request.id_number, today=today) if request.id_number else None
        appointment = await self._check_in(s, request.appointment_code, service) if request.appointment_code else None
        decision = classify(
            age=facts.age_on(today) if facts and rights.verified_identity else None,
            elderly_age=self.rules.elderly_age,
            disability=request.disability,
            pregnancy=request.pregnancy,
            appointment_slot=(appointment.slot_start, appointment.slot_end) if appointment else None,
            now=now,
            early_minutes=self.settings.appointment_early_minutes,
        )
        citizen = await self._citizen(s, request, facts, now, verified=rights.verified_identity)
        seq = await self.next_sequence(s, today, service.ticket_prefix)
        ticket = new_row(
            Ticket,
            hall_id=self.hall_id,
            service_id=service.id,
            day=today,
            number=f'{service.ticket_prefix}{seq:03d}',
            code=codes.tracking_code(),
            channel=request.channel,
            priority_class=decision.priority_class,
            priority_reason=decision.reason,
            priority_set_by=green_channel.set_by(caller, decision.reason),
            taken_at=now,
            queued_at=now,
            citizen_id=citizen.id if citizen else caller.citizen_id if rights.remote else None,
            appointment_id=appointment.id if appointment else None,
            account_id=caller.account_id if rights.remote else appointment.account_id if appointment else None,
            awaiting_arrival=rights.remote,
        )
        ticket.id = (await s.execute(TICKET_INSERT, {c: getattr(ticket, c) for c in TICKET_COLUMNS})).scalar_one()
        if appointment:
            appointment.status = AppointmentStatus.CHECKED_IN
            appointment.ticket_id = ticket.id
            uow.emit(appointment_changed(appointment))  # no longer counted as booked on the floor map
        service = await self.record_transition(
            uow,
            ticket,
            'issued',
            None,
            caller=caller,
            event=TicketIssued,
            detail=_issue_detail(request, caller, decision.reason),
            service=service,
        )
        if also is not None:
            await also(s, ticket)
        return ticket, await self._settled(uow.session, ticket, service)

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

    async def next_sequence(self, s: AsyncSession, day: dt.date, prefix: str) -> int:
        statement = NEXT_NUMBER_SQLITE if self.db.is_sqlite else NEXT_NUMBER_POSTGRESQL
        return (await s.execute(statement, {'hall_id': self.hall_id, 'day': day, 'prefix': prefix})).scalar_one()

    # ---- calling -----------------------------------------------------------------------------

    async def call_next(self, window_id: int, *, caller: Principal) -> TicketView:
        """Call the next ticket in order; a remote ticket whose citizen has not arrived is parked on the way
        (kept, told, and back in its place on arrival), and the one after it is called."""
        caller.require_window(window_id)
        now = self.clock()
        settled = None
        async with self._transaction() as uow:
            window = await self._open_free_window(uow.session, window_id, now)
            picked = await self._pick_next(uow.session, window, now)
            while picked is not None and picked[0].awaiting_arrival:
                await self._park_absent(uow, *picked, now, caller=caller)
                picked = await self._pick_next(uow.session, window, now)
            ticket = picked[0] if picked else None
            if picked is not None:
                ticket, service = picked
                await self._call(uow, ticket, window, now, caller=caller, service=service)
                settled = await self._settled(uow.session, ticket, service, window)
        if ticket is None:  # the parks above are committed: the next call does not meet them again
            raise NotFound('queue_empty')
        return settled or await self.ticket_view(ticket.code)

    async def _park_absent(
        self, uow: UnitOfWork, ticket: Ticket, service: ServiceItem, now: dt.datetime, *, caller: Principal
    ) -> None:
        await write_row(uow.session, ticket, status=TicketStatus.PARKED, target_window_id=None)
        await remote_queue.notify_not_arrived(uow.session, ticket, now=now)
        await self.record_transition(
            uow,
            ticket,
            'parked',
            TicketStatus.WAITING,
            caller=caller,
            reason=remote_queue.NOT_ARRIVED_REASON,
            event=TicketParked,
            service=service,
        )

    # ---- arrival of a remote ticket's citizen ------------------------------------------------

    async def arrive_by_entrance(self, payload: str, *, caller: Principal) -> list[TicketView]:
        """The signed-in phone scanned this hall's entrance code: its remote tickets of today are in the hall."""
        account_id = caller.require_account()
        remote_queue.entrance_hall(self.settings.secret, payload, self.hall_id)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            tickets = list(
                (
                    await s.execute(
                        select(Ticket)
                        .where(
                            Ticket.hall_id == self.hall_id,
                            Ticket.account_id == account_id,
                            Ticket.day == hall_day(now, self.settings.tz),
                            col(Ticket.awaiting_arrival).is_(True),
                            col(Ticket.status).in_((TicketStatus.WAITING, TicketStatus.PARKED)),
                        )
                        .order_by(Ticket.id)
                        .with_for_update()
                    )
                ).scalars()
            )
            for ticket in tickets:
                await self._arrive(uow, ticket, caller=caller, how='entrance')
        return [await self.ticket_view_by_id(ticket.id or 0) for ticket in tickets]

    async def arrive_at_kiosk(self, tracking_code: str, *, caller: Principal) -> TicketView:
        """A paired kiosk scanned the ticket's own QR (the tracking code /track uses) from the citizen's phone."""
        if caller.kind != Kind.KIOSK:
            raise Forbidden('channel_needs_device')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            ticket = (
                await s.execute(select(Ticket).where(Ticket.code == tracking_code.strip()).with_for_update())
            ).scalar_one_or_none()
            if ticket is None or ticket.hall_id != self.hall_id or ticket.day != hall_day(now, self.settings.tz):
                raise NotFound('unknown_ticket')
            if not ticket.awaiting_arrival or ticket.status not in (TicketStatus.WAITING, TicketStatus.PARKED):
                raise Conflict('not_awaiting_arrival', number=ticket.number)
            await self._arrive(uow, ticket, caller=caller, how='kiosk')
        return await self.ticket_view_by_id(ticket.id or 0)

    async def _arrive(self, uow: UnitOfWork, ticket: Ticket, *, caller: Principal, how: str) -> None:
        """The citizen is in the hall; a ticket parked while they were away waits again with its old queued_at."""
        previous = ticket.status
        ticket.awaiting_arrival = False
        ticket.status = TicketStatus.WAITING
        await self.record_transition(
            uow, ticket, 'arrived', previous, caller=caller, event=TicketArrived, detail={'how': how}
        )

    async def mark_green(self, window_id: int, number: str, *, reason: str, caller: Principal) -> TicketView:
        """绿色通道 marked at the desk: a waiting ticket moves ahead for disability or pregnancy, naming the clerk."""
        green_channel.require_marker(caller, window_id)
        reason = green_channel.checked_reason(reason)
        now = self.clock()
        async with self._transaction() as uow:
            ticket = await self.todays_ticket(uow.session, number, now)
            if ticket.status != TicketStatus.WAITING:
                raise Conflict('ticket_not_waiting', number=ticket.number)
            if ticket.priority_class == PriorityClass.GREEN:
                raise Conflict('already_green', number=ticket.number)
            ticket.priority_class, ticket.priority_reason = PriorityClass.GREEN, reason
            ticket.priority_set_by = green_channel.set_by(caller, reason)
            detail = {'green_channel': True, 'set_by': ticket.priority_set_by}
            await self.record_transition(
                uow, ticket, 'prioritised', TicketStatus.WAITING, caller=caller, event=TicketPrioritised, detail=detail
            )
        return await self.ticket_view(ticket.code)

    async def call_ticket(self, window_id: int, number: str, *, reason: str, caller: Principal) -> TicketView:
        """Out-of-order call of a named ticket; the reason is required and recorded."""
        caller.require_window(window_id)
        reason = checked_reason(reason, required=True)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            window = await self._open_free_window(s, window_id, now)
            ticket = await self.todays_ticket(s, number, now)
            if ticket.status != TicketStatus.WAITING:
                raise Conflict('ticket_not_waiting', number=ticket.number)
            if ticket.target_window_id is not None and ticket.target_window_id != window.id:
                raise Conflict('ticket_for_another_window', number=ticket.number)
            await self._require_serves(s, window, ticket.service_id)
            service = await self._call(uow, ticket, window, now, caller=caller, reason=reason, out_of_order=True)
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    async def _pick_next(self, s: AsyncSession, window: Window, now: dt.datetime) -> tuple[Ticket, ServiceItem] | None:
        """The next ticket for the window, locked, with its service (app/services/queue_pick.py: the head of each
        of its queues off the index, ordered in Python). A head another transaction holds is passed over, as
        SKIP LOCKED would (PostgreSQL; SQLite's BEGIN IMMEDIATE lets no other writer in)."""
        skipped: list[int] = []
        while True:
            bound = {'hall_id': self.hall_id, 'window_id': window.id, 'skipped': skipped}
            heads = (await s.execute(queue_pick.HEADS, bound)).all()
            ticket_id = queue_pick.first_in_order(heads, now=now, cap=self.fairness_cap)
            if ticket_id is None:
                return None
            row = (await s.execute(queue_pick.PICKED, {'ticket_id': ticket_id})).one_or_none()
            if row is not None:
                return queue_pick.picked(row)
            skipped.append(ticket_id)

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
        service: ServiceItem | None = None,
    ) -> ServiceItem:
        previous = ticket.status
        await write_row(
            uow.session,
            ticket,
            status=TicketStatus.CALLED,
            window_id=window.id,
            target_window_id=None,
            called_at=now,
            first_called_at=ticket.first_called_at or now,
        )
        await write_row(uow.session, window, current_ticket_id=ticket.id)
        kind = 'called_out_of_order' if out_of_order else ('resumed' if previous == TicketStatus.PARKED else 'called')
        event = TicketResumed if previous == TicketStatus.PARKED else TicketCalled
        extra: dict[str, Any] = {'out_of_order': True} if out_of_order else {}
        return await self.record_transition(
            uow,
            ticket,
            kind,
            previous,
            caller=caller,
            window=window,
            reason=reason,
            event=event,
            event_fields=extra,
            service=service,
        )

    async def recall(self, window_id: int, *, caller: Principal) -> TicketView:
        """Call the current ticket again: `recalls_before_no_show` times in its life, each after the interval."""
        caller.require_window(window_id)
        async with self._transaction() as uow:
            window, ticket, current_service = await self._window_and_current(uow.session, window_id)
            limit = self.rules.recalls_before_no_show
            if ticket.recall_count >= limit:
                raise Conflict('recall_limit', limit=limit)
            await self._require_interval(uow.session, ticket, 'recall_too_soon')
            await write_row(uow.session, ticket, recall_count=ticket.recall_count + 1)
            service = await self.record_transition(
                uow,
                ticket,
                'recalled',
                ticket.status,
                caller=caller,
                window=window,
                event=TicketCalled,
                event_fields={'recall': True},
                detail={'recall_count': ticket.recall_count},
                service=current_service,
            )
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    async def no_show(self, window_id: int, *, caller: Principal) -> TicketView:
        caller.require_window(window_id)
        async with self._transaction() as uow:
            window, ticket, current_service = await self._window_and_current(uow.session, window_id)
            limit = self.rules.recalls_before_no_show
            if ticket.recall_count < limit:
                raise Conflict('recall_first', limit=limit)
            await self._require_interval(uow.session, ticket, 'no_show_too_soon')
            await write_row(uow.session, ticket, status=TicketStatus.NO_SHOW, completed_at=self.clock())
            await write_row(uow.session, window, current_ticket_id=None)
            service = await self.record_transition(
                uow,
                ticket,
                'no_show',
                TicketStatus.CALLED,
                caller=caller,
                window=window,
                event=TicketNoShow,
                service=current_service,
            )
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    async def complete(self, window_id: int, *, caller: Principal) -> TicketView:
        caller.require_window(window_id)
        now = self.clock()
        async with self._transaction() as uow:
            window, ticket, current_service = await self._window_and_current(uow.session, window_id)
            await write_row(uow.session, ticket, status=TicketStatus.COMPLETED, completed_at=now)
            await write_row(uow.session, window, current_ticket_id=None)
            service = await self.record_transition(
                uow,
                ticket,
                'completed',
                TicketStatus.CALLED,
                caller=caller,
                window=window,
                event=TicketCompleted,
                service=current_service,
            )
            await rating_invites.invite_to_rate(
                uow.session, ticket, public_url=self.settings.public_url, now=now, service=service
            )
            settled = await self._settled(uow.session, ticket, service, window)
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
            raise Invalid('service_code_too_long', SERVICE_CODE_MAX=SERVICE_CODE_MAX)
        if to_window_id == window_id:
            raise Conflict('transfer_same_window')
        async with self._transaction() as uow:
            s = uow.session
            window, ticket, current_service = await self._window_and_current(s, window_id)
            service = await self._service_by_code(s, to_service_code) if to_service_code else current_service
            assert service is not None and service.id is not None
            if to_window_id is not None:
                target = await self._window(s, to_window_id)
                if target.state != WindowState.OPEN:
                    raise Conflict(
                        'transfer_target_closed',
                        number=target.number,
                        state=target.state,
                    )
                await self._require_serves(s, target, service.id)
            elif not await self._is_served(s, service.id, open_only=True):
                raise Conflict('service_unavailable', text='service_unavailable.open', name=service.name)
            from_service_id, from_window_id = ticket.service_id, window.id
            await write_row(
                s,
                ticket,
                service_id=service.id,
                status=TicketStatus.WAITING,
                window_id=None,
                target_window_id=to_window_id,
                called_at=None,
                transfer_count=ticket.transfer_count + 1,
            )
            await write_row(s, window, current_ticket_id=None)
            service = await self.record_transition(
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
                service=service,
            )
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    async def park(self, window_id: int, *, reason: str = '', caller: Principal) -> TicketView:
        """Put the current ticket on hold (e.g. to fetch a missing document); the window is free again."""
        caller.require_window(window_id)
        reason = checked_reason(reason, required=False)
        async with self._transaction() as uow:
            window, ticket, current_service = await self._window_and_current(uow.session, window_id)
            await write_row(uow.session, ticket, status=TicketStatus.PARKED, target_window_id=window.id)
            await write_row(uow.session, window, current_ticket_id=None)
            service = await self.record_transition(
                uow,
                ticket,
                'parked',
                TicketStatus.CALLED,
                caller=caller,
                window=window,
                reason=reason,
                event=TicketParked,
                service=current_service,
            )
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    async def resume(self, window_id: int, number: str, *, caller: Principal) -> TicketView:
        """Call a parked ticket straight back to the window that parked it."""
        caller.require_window(window_id)
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            window = await self._open_free_window(s, window_id, now)
            ticket = await self.todays_ticket(s, number, now)
            if ticket.status != TicketStatus.PARKED or ticket.target_window_id != window.id:
                raise Conflict('ticket_not_parked_here', number=ticket.number)
            service = await self._call(uow, ticket, window, now, caller=caller)
            settled = await self._settled(uow.session, ticket, service, window)
        return settled or await self.ticket_view(ticket.code)

    # ---- helpers -----------------------------------------------------------------------------

    def _served(self, service_id: Any, *, open_only: bool) -> Any:
        """EXISTS: a window of this hall (an open one, with `open_only`) serves the service (Core, on the tables)."""
        statement = (
            core_select(_WINDOW_SERVICE.c.window_id)
            .join_from(_WINDOW_SERVICE, _WINDOW, _WINDOW.c.id == _WINDOW_SERVICE.c.window_id)
            .where(_WINDOW_SERVICE.c.service_id == service_id, _WINDOW.c.hall_id == self.hall_id)
        )
        if open_only:
            statement = statement.where(_WINDOW.c.state == WindowState.OPEN)
        return statement.exists()

    async def _is_served(self, s: AsyncSession, service_id: int | None, *, open_only: bool = False) -> bool:
        return bool((await s.execute(select(self._served(service_id, open_only=open_only)))).scalar_one())

    async def _service_and_served(self, s: AsyncSession, code: str, *, open_only: bool) -> tuple[ServiceItem, bool]:
        """The service by its code and whether a window serves it, in one statement (a number is taken often),
        built once per `open_only` and bound per call. A Core SELECT of the service's columns (`loaded`): the ORM's
        loading of the row cost more than the statement; nothing in the take writes the service."""
        statement = self._service_lookups.get(open_only)
        if statement is None:
            statement = self._service_lookups[open_only] = core_select(
                *columns_of(ServiceItem), self._served(_SERVICE.c.id, open_only=open_only)
            ).where(_SERVICE.c.code == bindparam('code'))
        row = (await s.execute(statement, {'code': code})).one_or_none()
        if row is None:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=code)
        return loaded(ServiceItem, row), bool(row[width(ServiceItem)])

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
        wait = self.rules.recall_interval_seconds - (self.clock() - last).total_seconds()
        if wait > 0:
            raise Conflict(code, text='too_soon', seconds=math.ceil(wait))

    async def _require_serves(self, s: AsyncSession, window: Window, service_id: int) -> None:
        link = await s.get(WindowService, (window.id, service_id))
        if link is None:
            raise Conflict('service_not_served', number=window.number)

    async def _open_free_window(self, s: AsyncSession, window_id: int, now: dt.datetime) -> Window:
        """The window, locked, if it may call now: open, inside its own hours, no ticket at the desk."""
        row = (await s.execute(WINDOW_TO_CALL, {'window_id': window_id, 'hall_id': self.hall_id})).one_or_none()
        if row is None:
            raise NotFound('unknown_window', window_id=window_id)
        window = loaded(Window, row)
        if window.state != WindowState.OPEN:
            raise Conflict('window_not_open', number=window.number, state=window.state)
        if not is_open_at(periods_of(window.hours), now, self.settings.tz):
            raise Conflict('window_outside_hours', number=window.number)
        if window.current_ticket_id is not None:
            raise Conflict('window_busy')
        return window

    async def _window_and_current(self, s: AsyncSession, window_id: int) -> tuple[Window, Ticket, ServiceItem]:
        """The window, its called ticket and that ticket's service, locked, in one statement."""
        bound = {'window_id': window_id, 'hall_id': self.hall_id}
        row = (await s.execute(WINDOW_AND_CURRENT, bound)).one_or_none()
        if row is None:
            window = await self._window(s, window_id, lock=True)
            raise Conflict('no_current_ticket', number=window.number)
        at_ticket = width(Window)
        return loaded(Window, row), loaded(Ticket, row, at_ticket), loaded(ServiceItem, row, at_ticket + width(Ticket))

    async def todays_ticket(self, s: AsyncSession, number: str, now: dt.datetime) -> Ticket:
        """This hall's ticket `number` of today, locked: each hall counts its numbers again from 1 every day, so a
        number names one ticket only within a hall and a day (the desk's commands and 跨区通办's `send` find it so)."""
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
            raise NotFound('unknown_ticket', text='unknown_ticket.today', number=number)
        return ticket

    async def record_transition(
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
        service: ServiceItem | None = None,
    ) -> ServiceItem:
        """Write the TicketEvent row and its audit row (one transaction), and queue the bus event for after commit;
        returns the ticket's service (the caller's answer shows it: held here, the session need not read it again).

        The TicketEvent row goes in as a plain INSERT (no ORM object: nothing reads it back in this transaction).
        The audit row is the transaction's last write: on PostgreSQL it holds the chain's lock until commit.
        """
        now = self.clock()
        assert ticket.id is not None
        if service is None or service.id != ticket.service_id:
            service = await uow.session.get(ServiceItem, ticket.service_id)
        assert service is not None
        await uow.session.execute(
            TICKET_EVENT_INSERT,
            {
                'ticket_id': ticket.id,
                'hall_id': self.hall_id,
                'kind': kind,
                'at': now,
                'actor': caller.name,
                'window_id': window.id if window else ticket.window_id,
                'service_id': ticket.service_id,
                'from_status': from_status,
                'to_status': ticket.status,
                'reason': reason,
                'detail': detail or {},
            },
        )
        await audit.record_for(
            uow.session,
            caller,
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
        return service


def _issue_detail(request: TicketCreate, caller: Principal, priority_reason: str) -> dict[str, Any]:
    """What the issue row records of how the person was identified (a typed number is marked, with its clerk)."""
    detail: dict[str, Any] = {'channel': request.channel.value, 'priority_reason': priority_reason}
    if request.id_number and caller.kind == Kind.KIOSK and request.channel == Channel.KIOSK:
        detail['identity'] = 'typed'
    if caller.assisted_by:
        detail['assisted_by'] = caller.assisted_by
    if priority_reason in green_channel.MARKED_REASONS:
        detail.update(green_channel=True, set_by=green_channel.set_by(caller, priority_reason))
    return detail


AUDITED_DETAIL = (
    'channel',
    'recall_count',
    'from_service_id',
    'to_window_id',
    'how',
    'green_channel',
    'set_by',
    'to_hall',  # 跨区通办 (app/services/ticket_handoff.py): where a ticket went, and where one came from
    'to_service',
    'from_hall',
    'from_number',
    'handoff_id',
)  # never priority reasons (health): who marked a green channel, not why


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
        awaiting_arrival=ticket.awaiting_arrival,
        account_id=ticket.account_id,
        citizen_id=ticket.citizen_id,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back naive (they are stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
