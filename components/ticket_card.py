"""The ticket's card on /track and /proxy: number, status, people ahead and the wait, the window once called.

Positions come from the queue's in-memory state, so a pushed ticket event costs no query: the card is
redrawn when the event moved this ticket, or the queue ahead of it while it waits.
"""

from __future__ import annotations

from nicegui import ui

from app.events import TicketEventBase
from app.models.ticket import TicketStatus
from app.services.queue import QueueService
from app.services.tracking import Tracked, live_position
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t


class TicketCard:
    def __init__(self, queue: QueueService, tracked: Tracked) -> None:
        self.queue = queue
        self.tracked = tracked
        self.status = ''
        self.window_number: int | None = None
        self.service_name = ''
        self.box = tid(ui.card(), 'track-ticket').classes('w-full p-4 gap-1')

    async def show(self) -> None:
        """Read the ticket once, then draw it (a code that tracks a case only hides the card)."""
        if self.tracked.ticket_id is not None:
            view = await self.queue.ticket_view_by_id(self.tracked.ticket_id)
            self.status, self.window_number = view.ticket.status, view.window_number
            self.service_name = view.service.name
        self.draw()

    def draw(self) -> None:
        self.box.clear()
        if self.tracked.ticket_id is None:
            self.box.set_visibility(False)
            return
        with self.box:
            with ui.row().classes('w-full items-baseline justify-between no-wrap'):
                tid(ui.label(self.tracked.number), 'track-number').classes('text-4xl font-mono font-bold text-primary')
                tid(ui.label(t(f'track.status.{self.status}')), 'track-status').classes('text-base')
            ui.label(self.service_name).classes('text-base')
            if self.status == TicketStatus.WAITING:
                self._draw_position()
            elif self.status == TicketStatus.CALLED and self.window_number is not None:
                called = tid(ui.label(t('track.called', n=self.window_number)), 'track-window')
                called.classes('text-2xl font-bold text-accent')

    def _draw_position(self) -> None:
        live, tracked = self.queue.live, self.tracked
        if live is None or tracked.ticket_id is None:
            return
        position = live_position(
            live, tracked.ticket_id, tracked.service_id, now=self.queue.clock(), cap=self.queue.fairness_cap
        )
        if position is None:
            return
        ahead = t('track.ahead', n=position.ahead) if position.ahead else t('track.next')
        tid(ui.label(ahead), 'track-ahead').classes('text-2xl font-bold')
        estimate = position.estimate
        wait = t('track.eta', m=round(estimate.minutes)) if estimate is not None else t('track.no_eta')
        tid(ui.label(wait), 'track-eta').classes('text-base text-grey-8')

    def moved(self, event: TicketEventBase) -> bool:
        """Redraw when this ticket, or the queue ahead of it, moved; True when it was just served."""
        ticket = event.payload
        if ticket.id == self.tracked.ticket_id:
            finished = ticket.status == TicketStatus.COMPLETED and self.status != TicketStatus.COMPLETED
            self.status, self.window_number = ticket.status, ticket.window_number
            self.draw()
            return finished
        if ticket.service_id == self.tracked.service_id and self.status == TicketStatus.WAITING:
            self.draw()
        return False
