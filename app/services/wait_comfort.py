"""The long-wait comfort prompt for the citizen's own pages: one server-side sweep decides when 30 minutes pass.

The seat's prompt (devices/drivers/seat.py) reaches whoever sits there; this one reaches the person whose
ticket has waited past `thresholds.LONG_WAIT` since it was taken, on /track and /me. No page keeps a timer:
the sweep (a periodic job, app/jobs.py) marks the ticket once (`comfort_at`, a conditional update, so several
workers prompt once) and publishes `WaitComfort` with the hall's `long_wait_comfort` text; the pages follow
the journey feed, and a page opened later reads `prompt_for` once. A remote ticket not yet in the hall is
left out (it is not sitting anywhere), and one that arrived counts its wait from its arrival.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, update
from sqlmodel import col, select

from app.events import WaitComfort
from app.models.hall import Hall
from app.models.ticket import Ticket, TicketEvent, TicketStatus
from app.services.thresholds import LONG_WAIT
from app.services.uow import Service

PROMPT_KEY = 'long_wait_comfort'
ARRIVED = 'arrived'  # the ticket event of a remote ticket's citizen confirmed in the hall (app/services/queue.py)


@dataclass(frozen=True)
class ComfortText:
    zh: str
    en: str

    def in_language(self, lang: str) -> str:
        return self.en if lang.startswith('en') and self.en else self.zh


class WaitComfortService(Service):
    """Finds tickets waiting past the threshold, marks each once and pushes the hall's prompt to its pages."""

    async def sweep(self) -> int:
        """Prompt every ticket that has waited past the threshold and was not prompted yet; how many were."""
        now = self.clock()
        cutoff = now - LONG_WAIT
        arrived_lately = exists().where(
            col(TicketEvent.ticket_id) == Ticket.id, TicketEvent.kind == ARRIVED, col(TicketEvent.at) > cutoff
        )
        statement = select(Ticket.id).where(
            Ticket.hall_id == self.hall_id,
            Ticket.status == TicketStatus.WAITING,
            col(Ticket.awaiting_arrival).is_(False),
            col(Ticket.comfort_at).is_(None),
            col(Ticket.taken_at) <= cutoff,
            ~arrived_lately,
        )
        async with self.db.read_session() as s:
            due = list((await s.execute(statement)).scalars())
        if not due:
            return 0
        text = await self.text()
        prompted = 0
        for ticket_id in due:
            prompted += await self._prompt(ticket_id, text, now)
        return prompted

    async def _prompt(self, ticket_id: int, text: ComfortText, now: dt.datetime) -> int:
        async with self._transaction() as uow:
            taken = await uow.session.execute(
                update(Ticket)
                .where(
                    col(Ticket.id) == ticket_id,
                    col(Ticket.comfort_at).is_(None),
                    Ticket.status == TicketStatus.WAITING,
                )
                .values(comfort_at=now)
                .returning(Ticket.taken_at)
            )
            taken_at = taken.scalar_one_or_none()
            if taken_at is None:
                return 0
            uow.emit(
                WaitComfort(
                    hall_id=self.hall_id,
                    ticket_id=ticket_id,
                    waited_minutes=int((now - taken_at).total_seconds() // 60),
                    text_zh=text.zh,
                    text_en=text.en,
                )
            )
        return 1

    async def text(self) -> ComfortText:
        """The hall's long_wait_comfort prompt as configured now (an admin may have edited it)."""
        async with self.db.read_session() as s:
            hall = await s.get(Hall, self.hall_id)
        prompt = (hall.prompts if hall is not None else {}).get(PROMPT_KEY) or {}
        return ComfortText(str(prompt.get('zh', '')), str(prompt.get('en', '')))

    async def prompt_for(self, ticket_id: int) -> ComfortText | None:
        """The prompt a page opened now shows for this ticket: only while it waits and once it was prompted."""
        async with self.db.read_session() as s:
            ticket = await s.get(Ticket, ticket_id)
        if ticket is None or ticket.status != TicketStatus.WAITING or ticket.comfort_at is None:
            return None
        return await self.text()
