"""跨区通办 of a ticket: a clerk or manager sends a waiting (or served) ticket to a service of another hall.

Several halls share one database, but each hall's process owns its queue and its numbers, so the two halls act
in two steps over a durable request, the `ticket_handoff` row (app/models/handoff.py):

1. `send` (the source hall's process, in one transaction): the ticket closes as TRANSFERRED (a served ticket
   frees its window), one ticket event and one audit row record it, and the pending handoff row is written.
2. `inbox_round` (the target hall's process, polled by app/handoff_inbox.py): each pending row for this hall is
   locked, the new ticket is issued with this hall's own next number, and the row records it as applied, all in
   one transaction. The row's status is read under its lock, so a retry or a second process of the same hall
   never issues a second ticket; a row whose hall has no process running simply waits, and the sender is told so.
3. `inbox_round` (the source hall's process, the same inbox loop): each applied row not yet announced goes out
   once as `HandoffApplied` on the source hall's own bus, so a sender told "pending" and the old ticket's open
   /track pages hear of the new number without any page polling; the database carries it between the halls, so
   this works with and without Redis.

Place in the new queue: the ticket keeps its priority class and its original take time as `queued_at`, the rule
an in-hall transfer already follows ("it keeps its place in time"): the citizen did not choose the wrong hall, so
they should not start again at the back. Because they still have to get there, the new ticket is a remote one
(`awaiting_arrival`): when its turn comes before they check in at the target's kiosk, the target's own rule parks
it and keeps its place (app/services/queue.py `call_next`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import CompoundSelect, bindparam, literal, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, or_, select

from app.clock import as_utc, hall_day
from app.events import Event, HandoffApplied, TicketHandedOff, TicketIssued
from app.models.hall import Hall, ServiceItem, Window, WindowService
from app.models.handoff import HandoffStatus, TicketHandoff
from app.models.people import Role
from app.models.ticket import Ticket, TicketStatus
from app.security import codes
from app.services.deps import Deps
from app.services.errors import Conflict, NotFound
from app.services.halls import require_hall_staff
from app.services.live_queue import LiveQueue
from app.services.principal import Principal
from app.services.queue import NUMBER_MAX, SERVICE_CODE_MAX, QueueService
from app.services.reasons import checked_reason
from app.services.uow import Service

HANDOFF_ROLES = (Role.STAFF, Role.MANAGER)
SENDABLE = (TicketStatus.WAITING, TicketStatus.CALLED)
HALL_CODE_MAX = 32
SENDER_WAIT = 3.0  # seconds a sender (the API, the desk) waits for the other hall's new number
WAIT_STEP = 0.1  # seconds between two looks while a sender waits for the target hall
APPLY_BATCH = 50  # rows of each kind one round takes; the next round takes the rest


def _inbox() -> CompoundSelect:
    """A hall's inbox in one read: (id, True) for each handoff sent to it and still pending, (id, False) for each it
    sent that the other hall applied and it has not announced yet; oldest first, at most APPLY_BATCH of each."""
    hall = bindparam('hall')
    incoming = (
        select(col(TicketHandoff.id), literal(True).label('incoming'))
        .where(TicketHandoff.to_hall_id == hall, TicketHandoff.status == HandoffStatus.PENDING)
        .order_by(col(TicketHandoff.id))
        .limit(APPLY_BATCH)
    )
    to_announce = (
        select(col(TicketHandoff.id), literal(False).label('incoming'))
        .where(
            TicketHandoff.from_hall_id == hall,
            TicketHandoff.status == HandoffStatus.APPLIED,
            col(TicketHandoff.announced_at).is_(None),
        )
        .order_by(col(TicketHandoff.id))
        .limit(APPLY_BATCH)
    )
    return union_all(incoming.subquery().select(), to_announce.subquery().select())


INBOX = _inbox()


@dataclass(frozen=True)
class HandoffView:
    """Both ends of one handoff: what the sender's answer, the desk and the citizen's /track show."""

    id: int
    status: HandoffStatus
    from_hall: str
    from_number: str
    to_hall_code: str
    to_hall: str
    to_service: str
    new_number: str | None
    new_code: str | None


@dataclass(frozen=True)
class WaitingToSend:
    """A waiting ticket the caller may send, as the desk's pick-list shows it: nothing the call board does not show
    but its service and how long it has waited."""

    number: str
    service_name: str
    service_name_en: str
    waited_minutes: int


@dataclass(frozen=True)
class Destination:
    """Another hall and the services (code, name) its windows serve."""

    code: str
    name: str
    services: tuple[tuple[str, str], ...]


class TicketHandoffService(Service):
    def __init__(self, deps: Deps, *, queue: QueueService) -> None:
        super().__init__(deps)
        self.queue = queue

    def _apply_first(self) -> Callable[[Event], object] | None:
        """This hall's live queue learns of a closed or issued ticket before the bus delivers it."""
        return self.queue.live.apply if self.queue.live else None

    async def send(
        self, number: str, *, to_hall_code: str, to_service_code: str, reason: str, caller: Principal
    ) -> HandoffView:
        """Close today's ticket `number` of this hall as transferred and ask hall `to_hall_code` to issue it anew.

        Refused, changing nothing: callers who are not staff or a manager of this hall (`forbidden`,
        `not_your_hall`), no reason, an unknown ticket, one already sent (`ticket_already_transferred`) or not
        waiting or being served (`ticket_not_transferable`), one served at another clerk's window (`not_your_window`;
        a waiting ticket any clerk of the hall may send), an unknown hall (`unknown_hall_code`), this hall
        (`handoff_same_hall`), an unknown service, or one that hall does not offer (`service_not_in_hall`).
        """
        caller.require(*HANDOFF_ROLES)
        reason = checked_reason(reason, required=True)
        number = number.strip().upper()
        if len(number) > NUMBER_MAX:
            raise NotFound('unknown_ticket', text='unknown_ticket.today', number=number[:NUMBER_MAX])
        if len(to_hall_code) > HALL_CODE_MAX:
            raise NotFound('unknown_hall_code', hall=to_hall_code[:HALL_CODE_MAX])
        if len(to_service_code) > SERVICE_CODE_MAX:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=to_service_code[:32])
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            await require_hall_staff(s, caller, self.hall_id)
            ticket = await self.queue.todays_ticket(s, number, now)
            if ticket.status == TicketStatus.TRANSFERRED:
                raise Conflict('ticket_already_transferred', number=ticket.number)
            if ticket.status not in SENDABLE:
                raise Conflict('ticket_not_transferable', number=ticket.number)
            if ticket.status == TicketStatus.CALLED and ticket.window_id is not None:
                caller.require_window(ticket.window_id)  # a waiting ticket: any desk of the hall; a served one: its own
            target = (await s.execute(select(Hall).where(Hall.code == to_hall_code))).scalar_one_or_none()
            if target is None or target.id is None:
                raise NotFound('unknown_hall_code', hall=to_hall_code)
            if target.id == self.hall_id:
                raise Conflict('handoff_same_hall')
            service = await self._offered(s, to_service_code, target)
            window = await self._serving_window(s, ticket)
            from_status, from_window_id = ticket.status, ticket.window_id
            ticket.status = TicketStatus.TRANSFERRED
            ticket.completed_at = now
            if window is not None:
                window.current_ticket_id = None
            handoff = TicketHandoff(
                from_hall_id=self.hall_id,
                from_ticket_id=ticket.id or 0,
                to_hall_id=target.id,
                to_service_id=service.id or 0,
                reason=reason,
                actor=caller.name[:64],
                requested_at=now,
            )
            s.add(handoff)
            await s.flush()
            await self.queue.record_transition(
                uow,
                ticket,
                'handed_off',
                from_status,
                caller=caller,
                event=TicketHandedOff,
                window=window,
                reason=reason,
                detail={'to_hall': target.code, 'to_service': service.code, 'handoff_id': handoff.id},
                event_fields={'to_hall_code': target.code, 'from_window_id': from_window_id},
            )
            handoff_id = handoff.id or 0
        return await self.view(handoff_id)

    async def waiting_to_send(self, caller: Principal) -> list[WaitingToSend]:
        """The waiting tickets `caller` may send (`send`'s rule: staff or a manager of this hall, any of today's waiting
        tickets of the hall), by number; a served ticket goes from its own desk, not from this list.

        Read from the live queue, so a desk can ask again on every ticket event: no query, unless the caller's window
        is one the live state does not know (then the database says whether it is in this hall). Refused like `send`
        (`forbidden`, `not_your_hall`)."""
        caller.require(*HANDOFF_ROLES)
        live = self.queue.live
        if live is None or (caller.window_id is not None and caller.window_id not in live.windows):
            async with self.db.read_session() as s:
                await require_hall_staff(s, caller, self.hall_id)
                live = live or await self.queue.live_state(s)
        return _waiting_today(live, self.clock(), self.settings.tz)

    async def inbox_round(self) -> tuple[int, int]:
        """One round of app/handoff_inbox.py: issue this hall's new ticket for every pending handoff sent to it, and
        announce each it sent that the other hall has applied; returns (applied, announced). Both lists come from one
        indexed read, so a round with nothing waiting (nearly every round) costs one query."""
        async with self.db.read_session() as s:
            rows = (await s.execute(INBOX, {'hall': self.hall_id})).all()
        applied = 0
        for handoff_id, incoming in rows:
            if incoming:
                applied += await self._apply(handoff_id)
        to_announce = [handoff_id for handoff_id, incoming in rows if not incoming]
        return applied, await self._announce(to_announce) if to_announce else 0

    async def _apply(self, handoff_id: int) -> int:
        """Apply one handoff if it is still pending (under its row lock): 1 when this call issued the ticket."""
        system = Principal.system('handoff')
        now = self.clock()
        async with self._transaction() as uow:
            s = uow.session
            handoff = await s.get(TicketHandoff, handoff_id, with_for_update=True)
            if handoff is None or handoff.status != HandoffStatus.PENDING or handoff.to_hall_id != self.hall_id:
                return 0  # another process of this hall, or an earlier round, applied it
            original = await s.get(Ticket, handoff.from_ticket_id)
            service = await s.get(ServiceItem, handoff.to_service_id)
            source = await s.get(Hall, handoff.from_hall_id)
            assert original is not None and service is not None and source is not None
            day = hall_day(now, self.settings.tz)
            seq = await self.queue.next_sequence(s, day, service.ticket_prefix)
            ticket = Ticket(
                hall_id=self.hall_id,
                service_id=service.id or 0,
                day=day,
                number=f'{service.ticket_prefix}{seq:03d}',
                code=codes.tracking_code(),
                channel=original.channel,
                priority_class=original.priority_class,
                priority_reason=original.priority_reason,
                priority_set_by=original.priority_set_by,
                taken_at=original.taken_at,
                queued_at=original.taken_at,
                citizen_id=original.citizen_id,
                account_id=original.account_id,
                awaiting_arrival=True,
                transfer_count=original.transfer_count + 1,
            )
            s.add(ticket)
            await s.flush()
            handoff.status = HandoffStatus.APPLIED
            handoff.applied_at = now
            handoff.new_ticket_id = ticket.id
            await self.queue.record_transition(
                uow,
                ticket,
                'issued',
                None,
                caller=system,
                event=TicketIssued,
                reason=handoff.reason,
                detail={'from_hall': source.code, 'from_number': original.number, 'handoff_id': handoff.id},
                service=service,
            )
        return 1

    async def _announce(self, ids: list[int]) -> int:
        """Tell this hall's pages (`HandoffApplied` on its bus) of each of these handoffs it sent, now applied. Each row
        is claimed under its lock and marked, so every process of this hall may do this and each is announced once."""
        now = self.clock()
        announced = 0
        async with self._transaction() as uow:
            s = uow.session
            for handoff_id in ids:
                handoff = await s.get(TicketHandoff, handoff_id, with_for_update=True)
                if handoff is None or handoff.announced_at is not None:
                    continue  # another process of this hall announced it
                handoff.announced_at = now
                view = await _view(s, handoff)
                waited = (handoff.applied_at or now) - handoff.requested_at
                uow.emit(
                    HandoffApplied(
                        hall_id=self.hall_id,
                        handoff_id=view.id,
                        from_ticket_id=handoff.from_ticket_id,
                        from_number=view.from_number,
                        to_hall=view.to_hall,
                        new_number=view.new_number or '',
                        actor=handoff.actor,
                        late=waited.total_seconds() > SENDER_WAIT,
                    )
                )
                announced += 1
        return announced

    async def view(self, handoff_id: int) -> HandoffView:
        """One handoff, both ends, as the database has it now."""
        async with self.db.read_session() as s:
            handoff = await s.get(TicketHandoff, handoff_id)
            if handoff is None:
                raise NotFound('unknown_handoff')
            return await _view(s, handoff)

    async def wait_applied(self, handoff_id: int, *, within: float) -> HandoffView:
        """The handoff once the target hall applied it, or as it stands after `within` seconds (still pending: that
        hall's process is not running or is behind; the row waits durably and is applied when it runs)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            view = await self.view(handoff_id)
            if view.status == HandoffStatus.APPLIED or asyncio.get_running_loop().time() >= deadline:
                return view
            await asyncio.sleep(WAIT_STEP)

    async def of_ticket(self, ticket_id: int) -> HandoffView | None:
        """The handoff that closed or issued ticket `ticket_id`, if any: the history link of both tickets."""
        async with self.db.read_session() as s:
            statement = select(TicketHandoff).where(
                or_(TicketHandoff.from_ticket_id == ticket_id, TicketHandoff.new_ticket_id == ticket_id)
            )
            handoff = (await s.execute(statement)).scalars().first()
            return await _view(s, handoff) if handoff is not None else None

    async def destinations(self) -> list[Destination]:
        """Every other hall with the services its windows serve: what the desk's dialog offers."""
        async with self.db.read_session() as s:
            statement = (
                select(Hall.code, Hall.name, ServiceItem.code, ServiceItem.name)
                .join(Window, col(Window.hall_id) == Hall.id)
                .join(WindowService, col(WindowService.window_id) == Window.id)
                .join(ServiceItem, col(ServiceItem.id) == WindowService.service_id)
                .where(Hall.id != self.hall_id)
                .distinct()
                .order_by(col(Hall.code), col(ServiceItem.code))
            )
            offered: dict[tuple[str, str], list[tuple[str, str]]] = {}
            for hall_code, hall_name, service_code, service_name in (await s.execute(statement)).all():
                offered.setdefault((hall_code, hall_name), []).append((service_code, service_name))
        return [Destination(code, name, tuple(services)) for (code, name), services in offered.items()]

    @staticmethod
    async def _offered(s: AsyncSession, code: str, hall: Hall) -> ServiceItem:
        """The service `code`, if some window of `hall` serves it (open or not: the hall's own rules decide when)."""
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == code))).scalar_one_or_none()
        if service is None:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=code)
        served = (
            select(WindowService.window_id)
            .join(Window)
            .where(WindowService.service_id == service.id, Window.hall_id == hall.id)
            .exists()
        )
        if not (await s.execute(select(served))).scalar_one():
            raise Conflict('service_not_in_hall', name=service.name, hall=hall.name)
        return service

    async def _serving_window(self, s: AsyncSession, ticket: Ticket) -> Window | None:
        if ticket.status != TicketStatus.CALLED or ticket.window_id is None:
            return None
        statement = select(Window).where(Window.id == ticket.window_id, Window.hall_id == self.hall_id)
        return (await s.execute(statement.with_for_update())).scalar_one_or_none()


def _waiting_today(live: LiveQueue, now: dt.datetime, tz: ZoneInfo) -> list[WaitingToSend]:
    """Today's waiting tickets of the live queue (`send` finds a number among today's only), by number."""
    today = hall_day(now, tz)
    found: list[WaitingToSend] = []
    for service_id, waiting in live.waiting.items():
        service = live.services.get(service_id)
        for ticket_id, candidate in waiting.items():
            known = live.numbers.get(ticket_id)
            if service is None or known is None or hall_day(known.taken_at, tz) != today:
                continue
            waited = max(int((now - as_utc(candidate.queued_at)).total_seconds() // 60), 0)
            found.append(WaitingToSend(known.number, service.name, service.name_en, waited))
    return sorted(found, key=lambda ticket: ticket.number)


async def _view(s: AsyncSession, handoff: TicketHandoff) -> HandoffView:
    original = await s.get(Ticket, handoff.from_ticket_id)
    source, target = await s.get(Hall, handoff.from_hall_id), await s.get(Hall, handoff.to_hall_id)
    service = await s.get(ServiceItem, handoff.to_service_id)
    issued = await s.get(Ticket, handoff.new_ticket_id) if handoff.new_ticket_id is not None else None
    assert original is not None and source is not None and target is not None and service is not None
    return HandoffView(
        id=handoff.id or 0,
        status=handoff.status,
        from_hall=source.name,
        from_number=original.number,
        to_hall_code=target.code,
        to_hall=target.name,
        to_service=service.name,
        new_number=issued.number if issued else None,
        new_code=issued.code if issued else None,
    )
