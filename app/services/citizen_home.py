""" "我的" (/me): everything of one signed-in citizen in one read, and the withdrawals they may make from it.

What an account sees: the tickets and bookings it took online, and, once a verified path (a card read at a
kiosk, staff) linked it to the hall's citizen record, that citizen's tickets, cases, certificates, consents
and relatives' grants. A phone that was never linked sees only what it took itself: a phone proves the
phone, not the person. Each list is bounded, newest first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import hall_day
from app.models.cases import Case
from app.models.hall import ServiceItem, Window
from app.models.proxy import ProxyGrant
from app.models.security import Consent, ConsentPublic
from app.models.ticket import OPEN_STATUSES, Ticket
from app.services import case_views
from app.services.booking import BookingService, BookingView
from app.services.case_views import CaseView
from app.services.deps import Deps
from app.services.principal import Principal
from app.services.uow import Service
from app.services.visit_timeline import CASE_KIND
from app.services.workflow import CASE_COMPLETED

RECENT = dt.timedelta(days=30)
MAX_ROWS = 20


@dataclass(frozen=True)
class MyTicket:
    id: int
    number: str
    code: str  # the ticket's own tracking code: /track/{code} is the citizen's, and this is the citizen
    status: str
    service_id: int
    service_name: str
    service_name_en: str
    window_number: int | None
    taken_at: dt.datetime
    awaiting_arrival: bool
    online: bool  # taken on the phone (remote) rather than in the hall

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True)
class MyGrant:
    id: int
    relation: str
    expires_at: dt.datetime
    ticket_number: str
    can_fill: bool


@dataclass(frozen=True)
class MyCase:
    """An open case as its own citizen's live page lists it: what, how far, by when."""

    id: int
    code: str
    status: str
    service_name: str
    service_name_en: str
    due_at: dt.datetime | None


@dataclass(frozen=True)
class Today:
    """What /me/live shows: the account's tickets of the hall's day and its open cases (twin/citizen_live.py)."""

    account_id: int
    tickets: list[MyTicket]
    cases: list[MyCase]


@dataclass(frozen=True)
class Home:
    account_id: int
    linked: bool  # a verified path tied the phone to the hall's citizen record
    tickets: list[MyTicket]
    bookings: list[BookingView]
    cases: list[CaseView]
    consents: list[ConsentPublic]
    grants: list[MyGrant]

    @property
    def ticket_ids(self) -> set[int]:
        return {ticket.id for ticket in self.tickets}

    @property
    def case_ids(self) -> set[int]:
        return {view.id for view in self.cases}


class CitizenHome(Service):
    """Read side of /me and `GET /api/me`; bookings are the booking service's own list, withdrawals go through
    the consent and proxy services."""

    def __init__(self, deps: Deps, bookings: BookingService) -> None:
        super().__init__(deps)
        self.bookings = bookings

    async def overview(self, caller: Principal) -> Home:
        account_id = caller.require_account()
        since = self.clock() - RECENT
        async with self.db.read_session() as s:
            return Home(
                account_id=account_id,
                linked=caller.citizen_id is not None,
                tickets=await _tickets(s, account_id, caller.citizen_id, since),
                bookings=await self.bookings.bookings_of(caller),
                cases=[await case_views.load(s, case) for case, _ in await _cases(s, account_id, caller.citizen_id)],
                consents=await _consents(s, caller.citizen_id),
                grants=await _grants(s, caller.citizen_id, self.clock()),
            )

    async def today(self, caller: Principal) -> Today:
        """The signed-in citizen's tickets taken since the hall's midnight and cases not yet completed, in one read."""
        account_id = caller.require_account()
        now = self.clock()
        tz = self.settings.tz
        midnight = dt.datetime.combine(hall_day(now, tz), dt.time(), tzinfo=tz)
        async with self.db.read_session() as s:
            return Today(
                account_id=account_id,
                tickets=await _tickets(s, account_id, caller.citizen_id, midnight),
                cases=await _open_cases(s, account_id, caller.citizen_id),
            )


def _mine(account_id: int, citizen_id: int | None) -> ColumnElement[bool]:
    """The tickets the account took, and once linked, those issued for its citizen (at a kiosk, at a desk)."""
    if citizen_id is None:
        return col(Ticket.account_id) == account_id
    return or_(col(Ticket.account_id) == account_id, col(Ticket.citizen_id) == citizen_id)


async def _tickets(s: AsyncSession, account_id: int, citizen_id: int | None, since: dt.datetime) -> list[MyTicket]:
    statement = (
        select(Ticket, ServiceItem, Window)
        .join(ServiceItem, col(ServiceItem.id) == Ticket.service_id)
        .outerjoin(Window, col(Window.id) == Ticket.window_id)
        .where(_mine(account_id, citizen_id), Ticket.taken_at >= since)
        .order_by(col(Ticket.taken_at).desc(), col(Ticket.id).desc())
        .limit(MAX_ROWS)
    )
    return [
        MyTicket(
            id=ticket.id or 0,
            number=ticket.number,
            code=ticket.code,
            status=ticket.status,
            service_id=ticket.service_id,
            service_name=service.name,
            service_name_en=service.name_en or service.name,
            window_number=window.number if window else None,
            taken_at=ticket.taken_at,
            awaiting_arrival=ticket.awaiting_arrival,
            online=ticket.account_id == account_id and ticket.appointment_id is None,
        )
        for ticket, service, window in (await s.execute(statement)).all()
    ]


def _whose(account_id: int, citizen_id: int | None) -> ColumnElement[bool]:
    """The one rule of whose a case is, for /me and /me/live alike.

    A case that names a citizen is that citizen's: opened at a desk for the linked citizen, it is theirs wherever
    it went (跨区通办 moves only its hall); another citizen's case on a ticket of this list (a booking of this phone
    checked in with someone else's ID card) is never this citizen's. A case that names nobody is its ticket's,
    and the ticket is the citizen's by the tickets' own rule (`_mine`; a ticket handed off to another hall keeps
    its account and citizen). An unlinked phone is nobody yet: the cases of the tickets it took are all it has.
    """
    on_my_ticket = col(Case.ticket_id).in_(select(Ticket.id).where(_mine(account_id, citizen_id)))
    if citizen_id is None:
        return on_my_ticket
    return or_(col(Case.citizen_id) == citizen_id, and_(col(Case.citizen_id).is_(None), on_my_ticket))


async def _cases(
    s: AsyncSession, account_id: int, citizen_id: int | None, *, open_only: bool = False
) -> list[tuple[Case, ServiceItem]]:
    """The citizen's cases (`_whose`), newest first; home visits have their own panel (app/services/home_visits.py)."""
    statement = (
        select(Case, ServiceItem)
        .join(ServiceItem, col(ServiceItem.id) == Case.service_id)
        .where(_whose(account_id, citizen_id), Case.kind != CASE_KIND)
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(MAX_ROWS)
    )
    if open_only:
        statement = statement.where(Case.status != CASE_COMPLETED)
    return [(case, service) for case, service in (await s.execute(statement)).all()]


async def _open_cases(s: AsyncSession, account_id: int, citizen_id: int | None) -> list[MyCase]:
    """The same cases as /me lists, open only."""
    return [
        MyCase(
            id=case.id or 0,
            code=case.code,
            status=case.status,
            service_name=service.name,
            service_name_en=service.name_en or service.name,
            due_at=case.due_at,
        )
        for case, service in await _cases(s, account_id, citizen_id, open_only=True)
    ]


async def _consents(s: AsyncSession, citizen_id: int | None) -> list[ConsentPublic]:
    if citizen_id is None:
        return []
    statement = (
        select(Consent)
        .where(Consent.citizen_id == citizen_id)
        .order_by(col(Consent.granted_at).desc(), col(Consent.id).desc())
        .limit(MAX_ROWS)
    )
    return [ConsentPublic.model_validate(consent) for consent in (await s.execute(statement)).scalars()]


async def _grants(s: AsyncSession, citizen_id: int | None, now: dt.datetime) -> list[MyGrant]:
    """The relatives' grants still running (an ended or expired one is gone from the list)."""
    if citizen_id is None:
        return []
    statement = (
        select(ProxyGrant, Ticket)
        .outerjoin(Ticket, col(Ticket.id) == ProxyGrant.ticket_id)
        .where(
            ProxyGrant.citizen_id == citizen_id,
            col(ProxyGrant.revoked_at).is_(None),
            ProxyGrant.expires_at > now,
        )
        .order_by(col(ProxyGrant.expires_at))
        .limit(MAX_ROWS)
    )
    return [
        MyGrant(
            id=grant.id or 0,
            relation=grant.relation,
            expires_at=grant.expires_at,
            ticket_number=ticket.number if ticket else '',
            can_fill=grant.can_fill,
        )
        for grant, ticket in (await s.execute(statement)).all()
    ]
