""" "我的" on the phone: open tickets with their live place, remote queueing, bookings, cases, consents, grants.

The screen reads the citizen's file once (app/services/citizen_home.py) and then follows the journey feed:
a ticket event redraws the ticket cards (positions come from the in-memory queue, no query), a case or
grant event about this citizen re-reads the file. Withdrawals and remote tickets go through the services,
which decide; the screen only forwards the signed-in caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from nicegui import ui

from app.events import CaseStepChanged, Event, ProxyChanged, TicketEventBase, WaitComfort
from app.models.appointment import AppointmentStatus
from app.models.ticket import Channel, TicketCreate
from app.services.booking import BookingView
from app.services.citizen_home import Home, MyTicket
from app.services.errors import DomainError
from app.services.journey import Journey
from app.services.principal import Principal
from app.services.queue import QueueService
from app.services.tracking import Tracked
from components import me_texts as _texts  # noqa: F401 - registers the texts
from components.case_timeline import case_timeline
from components.kiosk_ticket import qr_data_uri
from components.me_live import PAGE_PATH
from components.testids import tid
from components.texts import error_text, in_english, t
from components.ticket_card import TicketCard
from components.visit_panel import VisitPanel
from twin.journey_feed import JourneyFeed


class MeScreen:
    def __init__(
        self,
        journey: Journey,
        queue: QueueService,
        feed: JourneyFeed,
        caller: Principal,
        *,
        tz: ZoneInfo,
        base_url: str,
    ) -> None:
        self.journey = journey
        self.queue = queue
        self.feed = feed
        self.caller = caller
        self.tz = tz
        self.base_url = base_url
        self.home: Home | None = None
        self.cards: list[TicketCard] = []

    async def build(self) -> None:
        with ui.row().classes('w-full justify-between items-center'):
            tid(ui.link(t('me.guide'), '/guide'), 'me-guide').classes('text-base')
            tid(ui.link(t('me.live.open_live'), PAGE_PATH), 'me-live-link').classes('text-base')
            tid(ui.link(t('me.sign_out'), '/me/logout'), 'me-sign-out').classes('text-base')
        self.unlinked = tid(ui.label(t('me.unlinked')), 'me-unlinked').classes('text-sm text-grey-8')
        self.tickets_box = tid(ui.card(), 'me-tickets').classes('w-full p-4 gap-2')
        self.remote_box = tid(ui.card(), 'me-remote').classes('w-full p-4 gap-2')
        self.bookings_box = tid(ui.card(), 'me-bookings').classes('w-full p-4 gap-2')
        self.cases_box = tid(ui.card(), 'me-cases').classes('w-full p-4 gap-2')
        self.consents_box = tid(ui.card(), 'me-consents').classes('w-full p-4 gap-2')
        self.grants_box = tid(ui.card(), 'me-grants').classes('w-full p-4 gap-2')
        self.visits = VisitPanel(
            lambda: self.journey.visits.mine(self.caller),
            lambda code, address: self.journey.visits.request(self.caller, service_code=code, address=address),
            await self._services(),
            clock=self.journey.cases.clock,
            tz=self.tz,
            marker='me-visits',
        )
        await self.visits.draw()
        await self.draw_remote()
        await self.reload()
        self.feed.tickets.subscribe(self.on_ticket)
        self.feed.journey.subscribe(self.on_journey)

    async def reload(self) -> None:
        """Read the citizen's file again and redraw every part of it."""
        self.home = await self.journey.home.overview(self.caller)
        self.unlinked.set_visibility(not self.home.linked)
        await self.draw_tickets()
        self.draw_bookings()
        self.draw_cases()
        self.draw_consents()
        self.draw_grants()

    # ---- tickets -------------------------------------------------------------------------------

    async def draw_tickets(self) -> None:
        assert self.home is not None
        self.tickets_box.clear()
        self.cards = []
        with self.tickets_box:
            ui.label(t('me.tickets')).classes('text-base font-bold')
            if not self.home.tickets:
                ui.label(t('me.no_tickets')).classes('text-sm text-grey-7')
            for ticket in self.home.tickets:
                if ticket.open:
                    await self._open_ticket(ticket)
                else:
                    self._finished_ticket(ticket)

    async def _open_ticket(self, ticket: MyTicket) -> None:
        tracked = Tracked(ticket.code, ticket.id, None, self.caller.citizen_id, ticket.service_id, ticket.number)
        card = TicketCard(self.queue, tracked)
        await card.show()
        self.cards.append(card)
        comfort = await self.journey.comfort.prompt_for(ticket.id)
        if comfort is not None:
            text = comfort.in_language('en' if in_english() else 'zh')
            tid(ui.label(text), f'me-comfort-{ticket.number}').classes('w-full p-3 rounded bg-amber-1 text-sm')
        if ticket.awaiting_arrival:
            tid(ui.label(t('me.arrive_hint')), f'me-arrive-{ticket.number}').classes('text-sm text-accent')
        tid(ui.link(t('me.track'), f'/track/{ticket.code}'), f'me-track-{ticket.number}').classes('text-sm')

    def _finished_ticket(self, ticket: MyTicket) -> None:
        with ui.row().classes('w-full justify-between items-baseline no-wrap'):
            ui.label(f'{ticket.number} · {self._service_name(ticket)}').classes('text-sm ellipsis')
            when = ticket.taken_at.astimezone(self.tz).strftime('%m-%d %H:%M')
            ui.label(f'{t(f"track.status.{ticket.status}")} · {when}').classes('text-xs text-grey-7 shrink-0')

    @staticmethod
    def _service_name(ticket: MyTicket) -> str:
        return ticket.service_name_en if in_english() else ticket.service_name

    # ---- remote queueing -------------------------------------------------------------------------

    async def _services(self) -> dict[str, str]:
        overview = await self.queue.overview()
        return {q.service.code: q.service.name_en if in_english() else q.service.name for q in overview.queues}

    async def draw_remote(self) -> None:
        overview = await self.queue.overview()
        options = {q.service.code: f'{q.service.name} · {q.waiting}' for q in overview.queues}
        self.remote_box.clear()
        with self.remote_box:
            ui.label(t('me.remote')).classes('text-base font-bold')
            ui.label(t('me.remote.why')).classes('text-sm text-grey-8')
            self.remote_service = tid(
                ui.select(options, label=t('me.remote.service')).classes('w-full'), 'me-remote-service'
            )
            tid(ui.button(t('me.remote.take'), on_click=self.take_remote), 'me-remote-take').classes('w-full')

    async def take_remote(self) -> None:
        code = self.remote_service.value
        if not code:
            return
        try:
            view = await self.queue.take_ticket(
                TicketCreate(service_code=code, channel=Channel.MOBILE), caller=self.caller
            )
        except DomainError as error:
            ui.notify(error_text(error), type='warning')
            return
        ui.notify(t('me.remote.taken', number=view.ticket.number), type='positive')
        await self.reload()

    # ---- bookings, cases, consents, grants ---------------------------------------------------------

    def draw_bookings(self) -> None:
        assert self.home is not None
        self.bookings_box.clear()
        with self.bookings_box:
            with ui.row().classes('w-full justify-between items-baseline'):
                ui.label(t('me.bookings')).classes('text-base font-bold')
                tid(ui.link(t('me.book'), '/guide'), 'me-book').classes('text-sm')
            if not self.home.bookings:
                ui.label(t('me.no_bookings')).classes('text-sm text-grey-7')
            for booking in self.home.bookings:
                self._booking(booking)

    def _booking(self, booking: BookingView) -> None:
        start, end = booking.start.astimezone(self.tz), booking.end.astimezone(self.tz)
        live = booking.status == AppointmentStatus.BOOKED
        with tid(ui.column(), f'me-booking-{booking.reference}').classes('w-full gap-1 items-start'):
            ui.label(booking.service_name).classes('text-base' if live else 'text-sm')
            ui.label(f'{start:%Y-%m-%d %H:%M}–{end:%H:%M} · {t(f"me.booking.status.{booking.status}")}').classes(
                'text-sm' if live else 'text-xs text-grey-7'
            )
            if live:
                ui.label(t('me.booking.show_qr', reference=booking.reference)).classes('text-xs text-grey-8')
                tid(ui.image(qr_data_uri(booking.qr)), f'me-booking-qr-{booking.reference}').classes('w-40 h-40')
                tid(
                    ui.button(t('me.booking.cancel'), on_click=self._canceller(booking.reference)),
                    f'me-booking-cancel-{booking.reference}',
                ).props('flat dense color=negative')

    def _canceller(self, reference: str) -> Callable[[], Awaitable[None]]:
        async def cancel() -> None:
            try:
                await self.journey.bookings.cancel(self.caller, reference)
            except DomainError as error:
                ui.notify(error_text(error), type='warning')
                return
            ui.notify(t('me.booking.cancelled'), type='positive')
            await self.reload()

        return cancel

    def draw_cases(self) -> None:
        assert self.home is not None
        self.cases_box.clear()
        with self.cases_box:
            ui.label(t('me.cases')).classes('text-base font-bold')
            if not self.home.cases:
                ui.label(t('me.no_cases')).classes('text-sm text-grey-7')
            for view in self.home.cases:
                case_timeline(view, now=self.journey.cases.clock(), tz=self.tz, verify_base=self.base_url)

    def draw_consents(self) -> None:
        assert self.home is not None
        self.consents_box.clear()
        with self.consents_box:
            ui.label(t('me.consents')).classes('text-base font-bold')
            if not self.home.consents:
                ui.label(t('me.no_consents')).classes('text-sm text-grey-7')
            for consent in self.home.consents:
                with tid(ui.row(), f'me-consent-{consent.id}').classes('w-full items-center justify-between no-wrap'):
                    granted = consent.granted_at.astimezone(self.tz)
                    ui.label(f'{t(f"me.consent.purpose.{consent.purpose}")} · {granted:%Y-%m-%d}').classes('text-sm')
                    if consent.revoked_at is None:
                        ui.button(t('me.consent.revoke'), on_click=self._withdrawer(consent.id)).props('flat dense')
                    else:
                        ui.label(t('me.consent.revoked')).classes('text-xs text-grey-7')

    def _withdrawer(self, consent_id: int) -> Callable[[], Awaitable[None]]:
        async def withdraw() -> None:
            try:
                await self.journey.proxy.withdraw_by_account(self.caller, consent_id)
            except DomainError as error:
                ui.notify(error_text(error), type='warning')
                return
            ui.notify(t('me.consent.revoked_now'), type='positive')
            await self.reload()

        return withdraw

    def draw_grants(self) -> None:
        assert self.home is not None
        self.grants_box.clear()
        with self.grants_box:
            ui.label(t('me.grants')).classes('text-base font-bold')
            if not self.home.grants:
                ui.label(t('me.no_grants')).classes('text-sm text-grey-7')
            for grant in self.home.grants:
                until = grant.expires_at.astimezone(self.tz).strftime('%m-%d %H:%M')
                with tid(ui.row(), f'me-grant-{grant.id}').classes('w-full items-center justify-between no-wrap'):
                    line = t('me.grant.line', relation=grant.relation, number=grant.ticket_number, until=until)
                    ui.label(line).classes('text-sm')
                    ui.button(t('me.grant.end'), on_click=self._ender(grant.id)).props('flat dense color=negative')

    def _ender(self, grant_id: int) -> Callable[[], Awaitable[None]]:
        async def end() -> None:
            try:
                await self.journey.proxy.end_by_account(self.caller, grant_id)
            except DomainError as error:
                ui.notify(error_text(error), type='warning')
                return
            ui.notify(t('me.grant.ended'), type='positive')
            await self.reload()

        return end

    # ---- pushed events ---------------------------------------------------------------------------

    async def on_ticket(self, event: TicketEventBase) -> None:
        if self.home is None:
            return
        mine = event.payload.account_id is not None and event.payload.account_id == self.home.account_id
        if mine or event.payload.id in self.home.ticket_ids:
            await self.reload()  # a ticket of this citizen is new or moved: its status, a booking checked in, a case
            return
        for card in self.cards:
            card.moved(event)  # the queue ahead of a waiting ticket moved: redraw its place, no query

    async def on_journey(self, event: Event) -> None:
        if isinstance(event, CaseStepChanged) and event.case_id in self.visits.case_ids:
            await self.visits.draw()  # a step of one of this citizen's home visits
            return
        if self.home is not None and self._concerns(event):
            await self.reload()

    def _concerns(self, event: Event) -> bool:
        assert self.home is not None
        if isinstance(event, CaseStepChanged):
            return event.case_id in self.home.case_ids or event.ticket_id in self.home.ticket_ids
        if isinstance(event, WaitComfort):  # the hall's comfort prompt for a ticket of this citizen
            return event.ticket_id in self.home.ticket_ids
        if isinstance(event, ProxyChanged):
            grants = {grant.id for grant in self.home.grants}
            return event.grant_id in grants or event.ticket_id in self.home.ticket_ids
        return False
