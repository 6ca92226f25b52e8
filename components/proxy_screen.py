"""The relative's screen of /proxy (亲情代办): what the citizen shared, and the materials they can say are ready.

It shows the citizen's ticket card and case timelines (the same components as /track), never their
messages, consents or rating, plus the helper's list. When the citizen ends the grant, or its time
runs out, the screen says so at once (pushed by the journey feed; one timer for the expiry).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from nicegui import ui

from app.clock import utcnow
from app.events import CaseStepChanged, Event, ProxyChanged, TicketEventBase
from app.services.home_visits import VisitView
from app.services.journey import Journey
from app.services.proxy import ProxyAccess
from app.services.queue import QueueService
from components import proxy_texts as _texts  # noqa: F401 - registers the texts
from components.case_list import CaseList
from components.proxy_helper import ProxyHelper
from components.proxy_status import proxy_status_path
from components.testids import tid
from components.texts import t
from components.ticket_card import TicketCard
from components.visit_panel import VisitPanel
from twin.journey_feed import JourneyFeed


class ProxyScreen:
    def __init__(
        self,
        journey: Journey,
        queue: QueueService,
        feed: JourneyFeed,
        access: ProxyAccess,
        token: str,
        *,
        tz: ZoneInfo,
        base_url: str = '',
    ) -> None:
        self.journey = journey
        self.queue = queue
        self.feed = feed
        self.access = access
        self.token = token
        self.tz = tz
        self.base_url = base_url
        self.ended = False

    async def build(self) -> None:
        grant = self.access.grant
        until = grant.expires_at.astimezone(self.tz).strftime('%m-%d %H:%M')
        with ui.column().classes('w-full gap-3') as self.root:
            with tid(ui.card(), 'proxy-banner').classes('w-full p-3 gap-0 bg-blue-1'):
                ui.label(t('proxy.banner', relation=grant.relation)).classes('text-base font-bold')
                ui.label(t('proxy.banner.until', at=until)).classes('text-xs text-grey-8')
                link = ui.link(t('proxy.live.keep'), proxy_status_path(self.token))  # to keep open: no client behind
                tid(link, 'proxy-status-link').classes('text-sm')
            self.ticket = TicketCard(self.queue, self.access.tracked, next_text='proxy.next')
            self.helper = ProxyHelper(self.journey.proxy, self.access, self.token)
            self.cases = CaseList(self.journey, self.access.tracked, tz=self.tz, base_url=self.base_url)
            self.visits = self._visit_panel(await self._services() if grant.can_fill else {})
        await self.ticket.show()
        await self.draw_cases()
        await self.visits.draw()
        self.feed.tickets.subscribe(self.on_ticket)
        self.feed.journey.subscribe(self.on_journey)
        remaining = (grant.expires_at - utcnow()).total_seconds()
        ui.timer(max(remaining, 0.0) + 1.0, self.show_ended, once=True)  # one timer for this page: its expiry

    def _visit_panel(self, services: dict[str, str]) -> VisitPanel:
        """The visits asked through this grant; asking one needs a grant that lets the relative fill in."""
        visits, token = self.journey.visits, self.token

        async def ask(code: str, address: str) -> VisitView:
            return await visits.request_for_grant(token, service_code=code, address=address)

        return VisitPanel(
            lambda: visits.for_grant(token),
            ask if self.access.grant.can_fill else None,
            services,
            clock=self.journey.cases.clock,
            tz=self.tz,
            marker='proxy-visits',
        )

    async def _services(self) -> dict[str, str]:
        overview = await self.queue.overview()
        return {q.service.code: q.service.name for q in overview.queues}

    async def draw_cases(self) -> None:
        await self.helper.draw(await self.cases.draw())

    def show_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.root.clear()
        with self.root, tid(ui.card(), 'proxy-ended').classes('w-full p-4'):
            ui.label(t('proxy.ended')).classes('text-base')

    def _open(self) -> bool:
        """False once the grant ended or ran out (which an event after the expiry shows at once)."""
        if not self.ended and utcnow() >= self.access.grant.expires_at:
            self.show_ended()
        return not self.ended

    def on_ticket(self, event: TicketEventBase) -> None:
        if self._open():
            self.ticket.moved(event)

    async def on_journey(self, event: Event) -> None:
        if not isinstance(event, ProxyChanged | CaseStepChanged) or not self._open():
            return
        if isinstance(event, ProxyChanged):
            if event.grant_id == self.access.grant_id:
                if event.change == 'ended':
                    self.show_ended()
                else:
                    await self.draw_cases()
        elif event.case_id in self.visits.case_ids:
            await self.visits.draw()
        elif self.cases.concerns(event.ticket_id, event.case_id):
            await self.draw_cases()
