"""The rating invitation (自动推送评价链接): once a ticket is served, and every case it opened concluded, the
citizen gets a text with a link to rate it.

Written in the transaction that completes the ticket or concludes its last case (the outbox promise), once
per ticket (its dedupe key), and only where a person can be reached: a citizen who left a phone number or an
account signed in with one. A no-show is never completed, so it is never invited; a ticket already rated
(at the window's pad) is not invited again. The link is the ticket's /track page under PUBLIC_URL, where the
texted code opens the one rating form of that ticket; without PUBLIC_URL the text names that page instead.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models.cases import Case, Evaluation
from app.models.hall import ServiceItem
from app.models.ticket import Ticket, TicketStatus
from app.services import notifications
from app.services.channels import SMS
from app.services.errors import Invalid
from app.services.messages import MAX_PARAMETER_LENGTH, Message, Template, hall_link, message
from app.services.workflow import CASE_COMPLETED

log = logging.getLogger(__name__)

KIND = 'rate_invite'


async def invite_to_rate(
    s: AsyncSession, ticket: Ticket, *, public_url: str, now: dt.datetime, service: ServiceItem | None = None
) -> int:
    """Write the invitation when it is due; how many outbox rows were new (0: not due, not reachable, or sent).
    `service`: the ticket's, when the caller holds it (read otherwise)."""
    if ticket.id is None or ticket.status != TicketStatus.COMPLETED:
        return 0
    channels = await notifications.channels_for(s, ticket.citizen_id, ticket.account_id)
    if SMS not in channels:
        return 0  # nobody to text (asked first: most tickets carry no phone): the form waits on /track and the pad
    unfinished = select(Case.id).where(Case.ticket_id == ticket.id, Case.status != CASE_COMPLETED).exists()
    rated = select(Evaluation.id).where(Evaluation.ticket_id == ticket.id).exists()
    if (await s.execute(select(or_(unfinished, rated)))).scalar_one():
        return 0  # invited when its last case concludes; never once rated
    if service is None or service.id != ticket.service_id:
        service = await s.get(ServiceItem, ticket.service_id)
    try:
        text = _invitation(service.name if service else '', ticket.code, public_url)
    except Invalid as refused:  # a service name carrying a link: no text rather than a failed completion
        log.warning('rating invitation for ticket %s not written: %s', ticket.id, refused.code)
        return 0
    return await notifications.add(
        s,
        hall_id=ticket.hall_id,
        key=f'{KIND}:{ticket.id}',
        kind=KIND,
        message=text,
        now=now,
        ticket_id=ticket.id,
        citizen_id=ticket.citizen_id,
        account_id=ticket.account_id,
        channels=channels,
    )


def _invitation(service: str, tracking_code: str, public_url: str) -> Message:
    name = service[:MAX_PARAMETER_LENGTH]
    link = hall_link(public_url, f'/track/{tracking_code}')
    if link is None:
        return message(Template.RATE_INVITE_PAGE, service=name)
    return message(Template.RATE_INVITE, service=name, link=link)


async def invite_after_case(s: AsyncSession, case: Case, *, public_url: str, now: dt.datetime) -> int:
    """A case concluded: its ticket's invitation, if that was the last case the ticket waited for."""
    if case.ticket_id is None:
        return 0
    ticket = await s.get(Ticket, case.ticket_id)
    return 0 if ticket is None else await invite_to_rate(s, ticket, public_url=public_url, now=now)
