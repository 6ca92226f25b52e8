"""`GET /api/me`: what "我的" shows, for the citizen's own app (a citizen bearer token from /api/citizen/session)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from app.api.deps import CallerDep, RuntimeDep
from app.services.booking import BookingView
from app.services.case_views import CaseView
from app.services.citizen_home import Home, MyGrant, MyTicket

router = APIRouter()  # included by the API router (app/api/routes.py), under its /api prefix


class MyTicketOut(BaseModel):
    number: str
    status: str
    service_name: str
    window_number: int | None
    taken_at: dt.datetime
    awaiting_arrival: bool
    online: bool
    track_path: str

    @classmethod
    def of(cls, ticket: MyTicket) -> MyTicketOut:
        return cls(
            number=ticket.number,
            status=ticket.status,
            service_name=ticket.service_name,
            window_number=ticket.window_number,
            taken_at=ticket.taken_at,
            awaiting_arrival=ticket.awaiting_arrival,
            online=ticket.online,
            track_path=f'/track/{ticket.code}',
        )


class MyBookingOut(BaseModel):
    reference: str
    service_code: str
    service_name: str
    start: dt.datetime
    end: dt.datetime
    status: str
    qr: str  # the signed payload a kiosk checks in (draw it as a QR code)

    @classmethod
    def of(cls, booking: BookingView) -> MyBookingOut:
        return cls(
            reference=booking.reference,
            service_code=booking.service_code,
            service_name=booking.service_name,
            start=booking.start,
            end=booking.end,
            status=booking.status,
            qr=booking.qr,
        )


class MyStepOut(BaseModel):
    name: str
    stage: int
    status: str
    due_at: dt.datetime | None


class MyCaseOut(BaseModel):
    service_name: str
    status: str
    created_at: dt.datetime
    due_at: dt.datetime | None
    steps: list[MyStepOut]
    certificates: list[str]

    @classmethod
    def of(cls, view: CaseView) -> MyCaseOut:
        return cls(
            service_name=view.service.name,
            status=view.case.status,
            created_at=view.case.created_at,
            due_at=view.case.due_at,
            steps=[MyStepOut(name=n.name, stage=n.stage, status=n.status, due_at=n.due_at) for n in view.nodes],
            certificates=[c.number for c in view.certificates if c.revoked_at is None],
        )


class MyConsentOut(BaseModel):
    id: int
    purpose: str
    scope: str
    granted_at: dt.datetime
    revoked_at: dt.datetime | None


class MyGrantOut(BaseModel):
    id: int
    relation: str
    expires_at: dt.datetime
    ticket_number: str
    can_fill: bool

    @classmethod
    def of(cls, grant: MyGrant) -> MyGrantOut:
        return cls(
            id=grant.id,
            relation=grant.relation,
            expires_at=grant.expires_at,
            ticket_number=grant.ticket_number,
            can_fill=grant.can_fill,
        )


class MeOut(BaseModel):
    linked: bool
    tickets: list[MyTicketOut]
    bookings: list[MyBookingOut]
    cases: list[MyCaseOut]
    consents: list[MyConsentOut]
    grants: list[MyGrantOut]

    @classmethod
    def of(cls, home: Home) -> MeOut:
        return cls(
            linked=home.linked,
            tickets=[MyTicketOut.of(ticket) for ticket in home.tickets],
            bookings=[MyBookingOut.of(booking) for booking in home.bookings],
            cases=[MyCaseOut.of(view) for view in home.cases],
            consents=[
                MyConsentOut(
                    id=c.id, purpose=c.purpose, scope=c.scope, granted_at=c.granted_at, revoked_at=c.revoked_at
                )
                for c in home.consents
            ],
            grants=[MyGrantOut.of(grant) for grant in home.grants],
        )


@router.get('/me', response_model=MeOut, tags=['citizen'])
async def me(rt: RuntimeDep, caller: CallerDep) -> MeOut:
    """The signed-in citizen's tickets, bookings, cases, consents and relatives' grants (401 without a citizen
    token). A phone not yet linked to the citizen by a kiosk card read or staff sees only what it took itself."""
    return MeOut.of(await rt.journey.home.overview(caller))
