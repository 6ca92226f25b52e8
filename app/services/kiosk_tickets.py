"""Issuing a kiosk ticket and keeping its answers, in one transaction: a ticket without its answers (or
answers without a ticket) is never stored.

Kiosk answers are kept as a `TicketEvent(kind='answers')` row of the ticket (no transition, the status
is unchanged): the window reads them with `answers_for` and hands them to the case it opens, which
then owns them on `Case.answers`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.db import Database
from app.models.security import Consent
from app.models.ticket import Channel, Ticket, TicketCreate, TicketEvent
from app.services.kiosk_steps import KioskSession, Method

ANSWERS_KIND = 'answers'

CHANNELS = {
    Method.MANUAL: Channel.KIOSK,
    Method.TYPED_ID: Channel.KIOSK,
    Method.ID_CARD: Channel.ID_CARD,
    Method.FACE: Channel.FACE,
    Method.APPOINTMENT: Channel.APPOINTMENT_QR,
}


def ticket_request(session: KioskSession) -> TicketCreate:
    """What the queue is asked for: the chosen service, how the citizen was identified, the clerk's flags."""
    identity = session.identity
    return TicketCreate(
        service_code=session.chosen(),
        channel=CHANNELS[session.method],
        id_number=identity.id_number if identity else None,
        name=(identity.name or None) if identity else None,
        appointment_code=session.appointment_code,
        disability=session.disability,
        pregnancy=session.pregnancy,
    )


def answers_event(ticket: Ticket, answers: dict[str, str], *, actor: str) -> TicketEvent:
    """The answers as a row of the ticket, given when it was taken (no transition: the status stays)."""
    assert ticket.id is not None
    return TicketEvent(
        ticket_id=ticket.id,
        hall_id=ticket.hall_id,
        kind=ANSWERS_KIND,
        at=ticket.taken_at,
        actor=actor,
        service_id=ticket.service_id,
        from_status=ticket.status,
        to_status=ticket.status,
        detail={'answers': dict(answers), 'source': 'kiosk'},
    )


async def record_answers(s: AsyncSession, ticket: Ticket, answers: dict[str, str], *, actor: str) -> None:
    """Add the answers to the ticket's own transaction (the queue's `take_ticket(..., also=...)`)."""
    s.add(answers_event(ticket, answers, actor=actor))
    await s.flush()


async def bind_consent(s: AsyncSession, ticket: Ticket, consent_id: int) -> None:
    """The 刷脸 consent given at the kiosk in this visit goes with its ticket, so /track shows it and can revoke it."""
    consent = await s.get(Consent, consent_id)
    if consent is not None and consent.citizen_id == ticket.citizen_id and consent.ticket_id is None:
        consent.ticket_id = ticket.id
        await s.flush()


async def answers_for(db: Database, ticket_id: int) -> dict[str, str]:
    """The latest answers recorded for a ticket (at the kiosk), or {} if none."""
    async with db.read_session() as s:
        row = (
            await s.execute(
                select(TicketEvent.detail)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == ANSWERS_KIND)
                .order_by(col(TicketEvent.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    answers: Any = (row or {}).get('answers', {})
    return {str(k): str(v) for k, v in answers.items()} if isinstance(answers, dict) else {}
