"""`/proxy/{token}`: the relative's live view of a ticket or case the citizen shared with them (亲情代办).

The link itself is the key (its token is stored hashed, scoped to one ticket or case, time-limited and
revocable). The relative sees what the citizen sees of the queue and the case, not their messages,
consents or rating, and can say that a required material is ready; the citizen confirms on /track.
When the citizen ends the grant, or its time runs out, the page says so at once (pushed, no polling).
"""

from __future__ import annotations

from fastapi import Request
from nicegui import Client, ui

from app.api.callers import address_of
from app.clock import utcnow
from app.events import CaseStepChanged, Event, ProxyChanged, TicketEventBase
from app.runtime import Runtime, ready
from app.services.case_views import CaseView
from app.services.errors import DomainError
from app.services.proxy import ProxyAccess
from components import proxy_texts as _texts  # noqa: F401 - registers the texts
from components.phone_frame import phone_frame
from components.proxy_helper import ProxyHelper
from components.testids import tid
from components.texts import t
from pages.track import TrackScreen

PROXY_EVENTS = (TicketEventBase, CaseStepChanged, ProxyChanged)


class ProxyScreen(TrackScreen):
    """The citizen's TrackScreen without their messages, rating and consents, plus the helper's list."""

    def __init__(self, rt: Runtime, access: ProxyAccess, token: str, client: Client, *, base_url: str = '') -> None:
        super().__init__(rt, access.tracked, client, base_url=base_url)
        self.access = access
        self.token = token
        self.ended = False

    async def build(self) -> None:
        await self._load_ticket()
        grant = self.access.grant
        until = grant.expires_at.astimezone(self.tz).strftime('%m-%d %H:%M')
        with ui.column().classes('w-full gap-3') as self.root:
            with tid(ui.card(), 'proxy-banner').classes('w-full p-3 gap-0 bg-blue-1'):
                ui.label(t('proxy.banner', relation=grant.relation)).classes('text-base font-bold')
                ui.label(t('proxy.banner.until', at=until)).classes('text-xs text-grey-8')
            self.ticket_box = tid(ui.card(), 'track-ticket').classes('w-full p-4 gap-1')
            self.helper = ProxyHelper(self.journey.proxy, self.access, self.token)
            self.case_box = tid(ui.card(), 'track-cases').classes('w-full p-4 gap-2')
        self.draw_ticket()
        await self.draw_cases()
        self.subscribe(PROXY_EVENTS)
        remaining = (grant.expires_at - utcnow()).total_seconds()
        ui.timer(max(remaining, 0.0) + 1.0, self.show_ended, once=True)  # one timer for this page: its expiry

    async def draw_cases(self) -> list[CaseView]:
        views = await super().draw_cases()
        await self.helper.draw(views)
        return views

    def show_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        self.root.clear()
        with self.root, tid(ui.card(), 'proxy-ended').classes('w-full p-4'):
            ui.label(t('proxy.ended')).classes('text-base')

    async def on_event(self, event: Event) -> None:
        if self.ended or self.client.id not in Client.instances:
            return
        if utcnow() >= self.access.grant.expires_at:
            self.show_ended()
        elif isinstance(event, ProxyChanged):
            if event.grant_id == self.access.grant_id:
                if event.change == 'ended':
                    self.show_ended()
                else:
                    await self.draw_cases()
        elif isinstance(event, TicketEventBase):
            self.ticket_moved(event)
        elif isinstance(event, CaseStepChanged) and self._concerns(event.ticket_id, event.case_id):
            await self.draw_cases()


async def proxy_page(token: str, client: Client, request: Request) -> None:
    rt = await ready()
    base_url = str(request.base_url).rstrip('/')
    with phone_frame(t('proxy.page'), hall_name=rt.hall.name):
        try:
            access = await rt.journey.proxy.join(token, client_address=address_of(request, rt.settings.trusted_proxies))
        except DomainError as refused:
            with tid(ui.card(), 'proxy-ended').classes('w-full p-4'):
                ui.label(refused.message).classes('text-base')
            return
        await ProxyScreen(rt, access, token, client, base_url=base_url).build()
