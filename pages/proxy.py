"""`/proxy/{token}`: the relative's live view of a ticket or case the citizen shared with them (亲情代办).

The link itself is the key (its token is stored hashed, scoped to one ticket or case, time-limited and
revocable). The page joins the grant and wires the screen (components/proxy_screen.py); the relative
can say that a required material is ready, and the citizen confirms on /track.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.api.callers import address_of
from app.services.errors import DomainError
from components import proxy_texts as _texts  # noqa: F401 - registers the texts
from components.phone_frame import phone_frame
from components.proxy_screen import ProxyScreen
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


async def proxy_page(started: Started, token: str, request: Request) -> None:
    parts = await started.ready()
    rt = parts.runtime
    base_url = str(request.base_url).rstrip('/')
    with phone_frame(t('proxy.page'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        try:
            access = await rt.journey.proxy.join(token, client_address=address_of(request, rt.settings.trusted_proxies))
        except DomainError as refused:
            with tid(ui.card(), 'proxy-ended').classes('w-full p-4'):
                ui.label(error_text(refused)).classes('text-base')
            return
        screen = ProxyScreen(
            rt.journey, rt.queue, parts.journey_feed, access, token, tz=rt.settings.tz, base_url=base_url
        )
        await screen.build()
