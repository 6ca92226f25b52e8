"""What a window's staff see and the few rules the window page adds on top of the queue engine.

The desk is read once per page and again after each change at this window (pushed by the twin),
never on a timer. The citizen appears only masked (`masked_citizen`); the checklist is the
service's, personalised by the answers given at the kiosk (`kiosk.answers_for`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.db import Database
from app.models.hall import ServiceItem, Window, WindowService, Zone
from app.models.people import Citizen, CitizenPublic, Role
from app.models.security import Consent, ConsentPublic, ConsentPurpose, ConsentScope
from app.models.ticket import Ticket, TicketEvent, TicketStatus
from app.security.crypto import FieldCipher
from app.security.masking import masked_citizen
from app.services import materials
from app.services.citizen_accounts import CitizenAccountService, Linked, TicketAccount, ticket_account
from app.services.consent import ConsentService, Guardian
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.kiosk import answers_for
from app.services.principal import Principal
from app.services.queue import QueueService, TicketView
from app.services.reasons import checked_reason
from app.services.tracking import TrackingService


@dataclass(frozen=True)
class ServedService:
    id: int
    code: str
    name: str
    tier: int  # 1 = the window's main service


@dataclass(frozen=True)
class ParkedTicket:
    number: str
    service_name: str
    reason: str


@dataclass(frozen=True)
class CurrentTicket:
    view: TicketView
    citizen: CitizenPublic | None
    answers: dict[str, str]
    answered: list[tuple[materials.Question, materials.Option]]
    checklist: materials.Checklist
    account: TicketAccount | None = None  # taken on the phone or booked online


@dataclass(frozen=True)
class Desk:
    window: Window
    zone_name: str
    services: tuple[ServedService, ...]
    current: CurrentTicket | None
    parked: tuple[ParkedTicket, ...]


@dataclass(frozen=True)
class WindowChoice:
    id: int
    number: int
    name: str


@dataclass(frozen=True)
class TransferTargets:
    services: tuple[ServedService, ...]  # every service some window serves (tier unused)
    windows: tuple[WindowChoice, ...]


def check_window(principal: Principal, window_id: int) -> None:
    """Staff work at their own window; managers and admins may open any."""
    if principal.role == Role.STAFF and principal.window_id != window_id:
        raise Forbidden('not_your_window')


def require_reason(reason: str, *, what: str) -> str:
    """Transfers and out-of-order calls are explained: the reason (at most the API's 200 characters) is kept."""
    if not reason.strip():
        raise Invalid('reason_required', text='reason_required.desk', what=what)
    return checked_reason(reason, required=True)


async def load_desk(db: Database, cipher: FieldCipher, queue: QueueService, window_id: int) -> Desk:
    today = hall_day(queue.clock(), queue.settings.tz)
    async with db.read_session() as s:
        window = await s.get(Window, window_id)
        if window is None or window.hall_id != queue.hall_id:
            raise NotFound('unknown_window', window_id=window_id)
        zone = await s.get(Zone, window.zone_id)
        served = (
            await s.execute(
                select(ServiceItem, WindowService.priority)
                .join(WindowService, col(WindowService.service_id) == ServiceItem.id)
                .where(WindowService.window_id == window_id)
                .order_by(WindowService.priority, col(ServiceItem.id))
            )
        ).all()
        parked_rows = (
            await s.execute(
                select(Ticket, ServiceItem.name)
                .join(ServiceItem, col(ServiceItem.id) == Ticket.service_id)
                .where(
                    Ticket.hall_id == queue.hall_id,
                    Ticket.status == TicketStatus.PARKED,
                    Ticket.target_window_id == window_id,
                    Ticket.day == today,
                )
                .order_by(col(Ticket.id))
            )
        ).all()
        parked = tuple([ParkedTicket(t.number, name, await _last_reason(s, t.id, 'parked')) for t, name in parked_rows])
        citizen = account = None
        current_ticket = await s.get(Ticket, window.current_ticket_id) if window.current_ticket_id else None
        if current_ticket is not None and current_ticket.citizen_id is not None:
            row = await s.get(Citizen, current_ticket.citizen_id)
            citizen = masked_citizen(row, cipher, today=today) if row else None
        if current_ticket is not None:
            account = await ticket_account(s, cipher, current_ticket)
    current = None
    if current_ticket is not None and current_ticket.id is not None:
        view = await queue.ticket_view_by_id(current_ticket.id)
        answers = materials.known_answers(view.service, await answers_for(db, current_ticket.id))
        current = CurrentTicket(
            view=view,
            citizen=citizen,
            answers=answers,
            answered=materials.answer_labels(view.service, answers),
            checklist=materials.checklist(view.service, answers),
            account=account,
        )
    services = tuple(ServedService(svc.id or 0, svc.code, svc.name, tier) for svc, tier in served)
    return Desk(window, zone.name if zone else '', services, current, parked)


async def _last_reason(s: AsyncSession, ticket_id: int | None, kind: str) -> str:
    statement = (
        select(TicketEvent.reason)
        .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
        .order_by(col(TicketEvent.id).desc())
        .limit(1)
    )
    return (await s.execute(statement)).scalar_one_or_none() or ''


async def transfer_targets(db: Database, hall_id: int) -> TransferTargets:
    async with db.read_session() as s:
        windows = (await s.execute(select(Window).where(Window.hall_id == hall_id).order_by(Window.number))).scalars()
        choices = tuple(WindowChoice(w.id or 0, w.number, w.name) for w in windows)
        services = (
            await s.execute(
                select(ServiceItem)
                .where(
                    col(ServiceItem.id).in_(
                        select(WindowService.service_id)
                        .join(Window, col(Window.id) == WindowService.window_id)
                        .where(Window.hall_id == hall_id)
                    )
                )
                .order_by(col(ServiceItem.id))
            )
        ).scalars()
        served = tuple(ServedService(svc.id or 0, svc.code, svc.name, 0) for svc in services)
    return TransferTargets(served, choices)


async def call_out_of_order(
    queue: QueueService, window_id: int, number: str, *, reason: str, principal: Principal
) -> TicketView:
    """Call a named ticket before its turn: the reason is required; the queue records and audits it."""
    reason = require_reason(reason, what='跳号呼叫')
    return await queue.call_ticket(window_id, number, reason=reason, caller=principal)


async def transfer(
    queue: QueueService,
    window_id: int,
    *,
    to_service_code: str | None,
    to_window_id: int | None,
    reason: str,
    caller: Principal,
) -> TicketView:
    reason = require_reason(reason, what='转移')
    return await queue.transfer(
        window_id, to_service_code=to_service_code or None, to_window_id=to_window_id, reason=reason, caller=caller
    )


def since_epoch_ms(moment: dt.datetime | None) -> int | None:
    """A moment as JavaScript's Date.now() units (the page's client-side service timer counts from it)."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int(aware.timestamp() * 1000)


async def grant_in_person(
    tracking: TrackingService, consent: ConsentService, caller: Principal, ticket_id: int, service_code: str
) -> Consent:
    """The citizen in front of the window agrees to 调取部门数据: recorded as the clerk's act (`window_staff`).

    The one path for a ticket without a phone; the clerk must be serving this ticket at their own window.
    """
    act = await tracking.at_window(caller, ticket_id)
    return await consent.grant_for(
        act, ConsentPurpose.DEPARTMENT_DATA, ConsentScope.SAME_KIND, service_code=service_code
    )


async def grant_for_guardian(
    tracking: TrackingService,
    consent: ConsentService,
    caller: Principal,
    ticket_id: int,
    purpose: ConsentPurpose,
    guardian: Guardian,
    *,
    service_code: str | None,
) -> Consent:
    """A minor's guardian, present at the window, consents for them: the clerk records it (audited as the clerk).

    刷脸 covers every service (same kind); 调取部门数据 is for this ticket's service.
    """
    act = await tracking.at_window(caller, ticket_id)
    scope = ConsentScope.SAME_KIND
    code = None if ConsentPurpose(purpose) == ConsentPurpose.FACE_TICKET else service_code
    return await consent.grant_for(act, purpose, scope, service_code=code, guardian=guardian)


async def revoke_in_person(
    tracking: TrackingService, consent: ConsentService, caller: Principal, ticket_id: int, consent_id: int
) -> Consent:
    """The citizen or their guardian withdraws a consent of this ticket at the window; audited as the clerk."""
    act = await tracking.at_window(caller, ticket_id)
    return await consent.revoke_for(act, consent_id)


async def ticket_consents(
    tracking: TrackingService, consent: ConsentService, caller: Principal, ticket_id: int
) -> list[ConsentPublic]:
    """This ticket's consents, for the clerk serving it (so a guardian can see and withdraw them)."""
    return await consent.list_for_ticket(await tracking.at_window(caller, ticket_id))


async def link_account(
    tracking: TrackingService, accounts: CitizenAccountService, caller: Principal, ticket_id: int, id_number: str = ''
) -> Linked:
    """Link the phone account this ticket came from to the citizen in front of the clerk (a verified path).

    Only the clerk serving this ticket at their own window; the ID number is needed only when the ticket has none.
    """
    act = await tracking.at_window(caller, ticket_id)
    return await accounts.link_at_window(act, caller, id_number[:32])
