"""`/kiosk/{device}`: the self-service kiosk (no login; the device code must be a kiosk of this hall)."""

from __future__ import annotations

from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from app.runtime import ready
from app.services.errors import NotFound
from app.services.kiosk import KioskService, KioskSession
from components.elder_frame import kiosk_frame
from components.kiosk_screen import KioskScreen
from components.texts import t
from twin import device_feed, live

NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>404</title>
<body style="font-family:sans-serif;padding:3rem;font-size:1.4rem"><h1>{title}</h1><p>{body}</p>
<p><a href="/">返回大厅 / back to the hall</a></p></body></html>"""


async def kiosk_page(request: Request, device: str) -> Response | None:
    rt = await ready()
    service = KioskService(rt.db, rt.bus, rt.settings, rt.cipher, rt.queue, hall_id=rt.hall.id or 0)
    try:
        kiosk = await service.kiosk(device)
    except NotFound:
        page = NOT_FOUND_PAGE.format(
            title=t('kiosk.not_found.title'), body=t('kiosk.not_found.body', code=escape(device))
        )
        return HTMLResponse(page, status_code=404)
    catalogue = await service.catalogue()
    with kiosk_frame(f'{t("kiosk.title")} · {rt.hall.name}') as frame:
        screen = KioskScreen(
            service,
            KioskSession(kiosk),
            catalogue,
            live.current(),
            rt.kiosk_devices,
            frame=frame,
            hall_name=rt.hall.name,
            track_base=str(request.base_url),
        )
    device_feed.current().events.subscribe(screen.on_device_event)
    return None
