"""The ticket's card on /track and /proxy: number, status, people ahead and the wait, the window once called.

Positions come from the queue's in-memory state, so a pushed ticket event costs no query: the card is
redrawn when the event moved this ticket, or the queue ahead of it while it waits. A remote ticket (远程取号)
not yet confirmed in the hall shows how to check in, and its QR for a kiosk's scanner.
"""

from __future__ import annotations

from nicegui import ui

from app.events import TicketEventBase
from app.models.ticket import PriorityClass, TicketStatus
from app.services.queue import QueueService
from app.services.remote_queue import ticket_qr
from app.services.ticket_handoff import HandoffView, TicketHandoffService
from app.services.tracking import Tracked, live_position
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.kiosk_ticket import qr_data_uri
from components.testids import tid
from components.texts import t


class TicketCard:
    def __init__(
        self,
        queue: QueueService,
        tracked: Tracked,
        *,
        handoffs: TicketHandoffService | None = None,
        next_text: str = 'track.next',
    ) -> None:
        """`handoffs` lets the card say where a ticket sent to another hall (跨区通办) goes, and its new number;
        `next_text` what it says when the ticket is next (a relative's card speaks of the family member's number)."""
        self.queue = queue
        self.next_text = next_text
        self.tracked = tracked
        self.handoffs = handoffs
        self.handoff: HandoffView | None = None
        self.status = ''
        self.window_number: int | None = None
        self.service_name = ''
        self.arrival_qr = ''  # a remote ticket's QR until its citizen is confirmed in the hall
        self.green = False  # 绿色通道: shown as a mark, never why (the code is a pointer, not a key)
        self.box = tid(ui.card(), 'track-ticket').classes('w-full p-4 gap-1')

    async def show(self) -> None:
        """Read the ticket once, then draw it (a code that tracks a case only hides the card)."""
        if self.tracked.ticket_id is not None:
            view = await self.queue.ticket_view_by_id(self.tracked.ticket_id)
            self.status, self.window_number = view.ticket.status, view.window_number
            self.service_name = view.service.name
            self.green = view.ticket.priority_class == PriorityClass.GREEN
            if view.ticket.awaiting_arrival:
                self.arrival_qr = ticket_qr(self.queue.settings.secret, view.ticket.code)
            if self.status == TicketStatus.TRANSFERRED and self.handoffs is not None:
                self.handoff = await self.handoffs.of_ticket(self.tracked.ticket_id)
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
            if self.green:
                tid(ui.label(t('track.green')), 'track-green').classes('bg-positive text-white rounded px-2 self-start')
            if self.handoff is not None:
                self._draw_handoff(self.handoff)
            if self.status == TicketStatus.WAITING:
                self._draw_position()
            elif self.status == TicketStatus.CALLED and self.window_number is not None:
                called = tid(ui.label(t('track.called', n=self.window_number)), 'track-window')
                called.classes('text-2xl font-bold text-accent')
            if self.arrival_qr and self.status in (TicketStatus.WAITING, TicketStatus.PARKED):
                self._draw_arrival()

    def _draw_handoff(self, handoff: HandoffView) -> None:
        """Where to go now: the other hall and service, and its own number once that hall issued it."""
        where = tid(ui.label(t('track.handoff', hall=handoff.to_hall, service=handoff.to_service)), 'track-handoff')
        where.classes('text-base font-bold')
        if handoff.new_number is None or handoff.new_code is None:
            tid(ui.label(t('track.handoff.pending')), 'track-handoff-pending').classes('text-sm text-grey-9')
            return
        tid(ui.label(t('track.handoff.number', number=handoff.new_number)), 'track-handoff-number').classes(
            'text-2xl font-bold text-primary'
        )
        tid(ui.link(t('track.handoff.follow'), f'/track/{handoff.new_code}'), 'track-handoff-link')

    def _draw_arrival(self) -> None:
        tid(ui.label(t('track.remote_arrival')), 'track-remote').classes('text-sm text-grey-9')
        qr = tid(ui.image(qr_data_uri(self.arrival_qr)), 'track-arrival-qr').props('no-spinner')
        qr.classes('w-40 h-40 self-center')

    def _draw_position(self) -> None:
        live, tracked = self.queue.live, self.tracked
        if live is None or tracked.ticket_id is None:
            return
        position = live_position(
            live, tracked.ticket_id, tracked.service_id, now=self.queue.clock(), cap=self.queue.fairness_cap
        )
        if position is None:
            return
        ahead = t('track.ahead', n=position.ahead) if position.ahead else t(self.next_text)
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
            if not ticket.awaiting_arrival:
                self.arrival_qr = ''
            self.draw()
            return finished
        if ticket.service_id == self.tracked.service_id and self.status == TicketStatus.WAITING:
            self.draw()
        return False
