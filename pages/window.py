"""`/window/{window_id}`: a window's desk (staff of that window; managers and admins may open any)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from nicegui import ui

from app.api.callers import address_of
from app.models.people import Role
from app.services import audit, window_desk
from app.services.errors import Forbidden, NotFound
from components.frame import frame
from components.handoff_notice import follow_sent_handoffs
from components.testids import tid
from components.texts import t
from components.window_screen import WindowScreen
from pages.guard import FORBIDDEN_PAGE
from pages.parts import Started

LOGOUT_JS = "fetch('/auth/logout', {method: 'POST'}).then(() => { location.href = '/login?reason=logged_out'; })"
NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>404</title>
<body style="font-family:sans-serif;padding:3rem"><h1>没有这个窗口 / No such window</h1>
<p><a href="/">返回大厅 / back</a></p></body></html>"""


async def window_page(started: Started, request: Request, window_id: int) -> Response | None:
    parts = await started.ready()
    rt = parts.runtime
    staff = await parts.guard.require(request, Role.STAFF, Role.MANAGER)
    if isinstance(staff, Response):
        return staff
    address = address_of(request, rt.settings.trusted_proxies)
    try:
        window_desk.check_window(staff.principal, window_id)
    except Forbidden:
        await audit.AuditLog(rt.deps).write(
            actor=staff.principal.name,
            role=staff.principal.role,
            action=audit.ROLE_DENIED,
            target=request.url.path,
            outcome=audit.OUTCOME_DENIED,
            detail={'reason': 'not_your_window'},
            client_address=address,
        )
        return HTMLResponse(FORBIDDEN_PAGE, status_code=403)
    try:
        desk = await window_desk.load_desk(rt.db, rt.cipher, rt.queue, window_id)
    except NotFound:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    targets = await window_desk.transfer_targets(rt.db, rt.hall.id or 0)
    twin = parts.twin
    title = f'{desk.window.name} · {t("desk.title")}'
    with frame(title, hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        with ui.row().classes('w-full items-center justify-between'):
            tid(ui.label(desk.window.name), 'desk-window').classes('text-2xl font-bold')
            with ui.row().classes('items-center gap-3'):
                ui.label(t('desk.staff', name=staff.principal.display_name)).classes('text-grey-8')
                tid(ui.link(t('desk.second_factor'), f'/enrol?next=/window/{window_id}'), 'desk-enrol')
                ui.button(t('desk.logout'), on_click=lambda: ui.run_javascript(LOGOUT_JS)).props('flat dense')
        screen = WindowScreen(
            staff,
            desk,
            targets,
            twin,
            queue=rt.queue,
            journey=rt.journey,
            handoffs=rt.handoffs,
            accounts=rt.accounts,
            db=rt.db,
            cipher=rt.cipher,
            client_address=address,
        )
    await screen.waiting_hall.refresh()
    twin.changed.subscribe(screen.on_twin_change)
    follow_sent_handoffs(parts.journey_feed, staff.principal.name)
    return None
