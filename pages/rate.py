"""`/rate/{window}`: the window's rating pad (评价器), a tablet screen paired like a kiosk.

Without a live screen credential for THIS window's pad (the HttpOnly cookie set by POST /kiosk/pair) the
answer is the plain HTML pairing page: no NiceGUI client, so no socket and no ticket events. A paired
screen is the pad's principal (scoped to its window); it checks its pairing again before every tap.
"""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from nicegui import Client, ui

from app.api.callers import address_of
from app.api.kiosk_pairing import KIOSK_COOKIE, pairing_page
from app.models.device import DeviceKind
from app.services.errors import NotFound, Unauthorized
from components.demo_banner import demo_banner
from components.rating_pad import RatingPadScreen
from components.texts import t
from pages.kiosk import NOT_FOUND_PAGE
from pages.parts import Started


async def rate_page(started: Started, request: Request, window: str, client: Client) -> Response | None:
    parts = await started.ready()
    rt = parts.runtime
    try:
        number = int(window) if window.isdigit() and len(window) < 6 else -1
        code = await rt.pairing.pad_at(number)
    except NotFound as error:
        client.delete()  # neither refusal gets a NiceGUI client: its id never reaches a browser
        body = escape(error.render(rt.settings.lang))
        return HTMLResponse(NOT_FOUND_PAGE.format(title='404', body=body), status_code=404)
    address = address_of(request, rt.settings.trusted_proxies)
    token = request.cookies.get(KIOSK_COOKIE, '')
    try:
        pad = await rt.pairing.authenticate(code, token, address=address, kind=DeviceKind.RATING_PAD)
    except Unauthorized:
        client.delete()
        return pairing_page(code, hall_name=rt.hall.name, status_code=403, pad=True)

    async def still_paired() -> bool:
        try:
            await rt.pairing.authenticate(code, token, address=address, kind=DeviceKind.RATING_PAD)
        except Unauthorized:
            return False
        return True

    ui.page_title(f'{t("pad.title", number=number)} · {rt.hall.name}')
    ui.query('.nicegui-content').classes('p-0')
    ui.colors(primary='#1f5fa8', accent='#c0392b', positive='#2e7d32')
    demo_banner(rt.stand_ins, classes='fixed bottom-2 left-2 z-10 opacity-80')
    screen = RatingPadScreen(rt.journey.evaluations, pad, window_number=number, still_paired=still_paired)
    await screen.show()
    parts.journey_feed.tickets.subscribe(screen.on_ticket)
    parts.journey_feed.journey.subscribe(screen.on_journey)
    parts.device_feed.events.subscribe(screen.on_device)
    return None
