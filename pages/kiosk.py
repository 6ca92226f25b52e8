"""`/kiosk/{device}`: the self-service kiosk, on a screen paired to that kiosk (no login for citizens).

Without a live screen credential for THIS kiosk (the HttpOnly cookie set by POST /kiosk/pair) the
answer is a plain HTML page with the pairing form: no NiceGUI client, so no socket and no device
events. A paired screen is the kiosk's principal; the screen checks its pairing again before every
action and device event (components/kiosk_screen.py).
"""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from nicegui import Client

from app.api.callers import address_of
from app.api.kiosk_pairing import KIOSK_COOKIE, pairing_page
from app.services.errors import NotFound, Unauthorized
from app.services.face_enrolment import FaceEnrolmentService
from app.services.kiosk import KioskService, KioskSession
from components.elder_frame import kiosk_frame
from components.kiosk_screen import KioskScreen
from components.texts import t
from pages.parts import Started

NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>404</title>
<body style="font-family:sans-serif;padding:3rem;font-size:1.4rem"><h1>{title}</h1><p>{body}</p>
<p><a href="/">返回大厅 / back to the hall</a></p></body></html>"""


async def kiosk_page(started: Started, request: Request, device: str, client: Client) -> Response | None:
    parts = await started.ready()
    rt = parts.runtime
    service = KioskService(rt.deps, rt.queue, auth=rt.auth)
    try:
        kiosk = await service.kiosk(device)
    except NotFound:
        client.delete()  # neither answer gets a NiceGUI client: its id never reaches a browser
        page = NOT_FOUND_PAGE.format(
            title=t('kiosk.not_found.title'), body=t('kiosk.not_found.body', code=escape(device))
        )
        return HTMLResponse(page, status_code=404)
    address = address_of(request, rt.settings.trusted_proxies)
    token = request.cookies.get(KIOSK_COOKIE, '')
    try:
        await rt.pairing.authenticate(kiosk.code, token, address=address)
    except Unauthorized:
        client.delete()
        return pairing_page(kiosk.code, hall_name=rt.hall.name, status_code=403)

    async def still_paired() -> bool:
        try:
            await rt.pairing.authenticate(kiosk.code, token, address=address)
        except Unauthorized:
            return False
        return True

    catalogue = await service.catalogue()
    with kiosk_frame(f'{t("kiosk.title")} · {rt.hall.name}', stand_ins=rt.stand_ins) as frame:
        screen = KioskScreen(
            service,
            KioskSession(kiosk, address=address),
            catalogue,
            parts.twin,
            parts.kiosk_devices,
            frame=frame,
            hall_name=rt.hall.name,
            track_base=str(request.base_url),
            still_paired=still_paired,
            enrolment=FaceEnrolmentService(rt.deps),
            assistant=rt.assistant,
        )
    parts.device_feed.events.subscribe(screen.on_device_event)
    parts.twin.configured.subscribe(screen.on_config)
    return None
