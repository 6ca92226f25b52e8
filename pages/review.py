"""`/review`: a department reviewer's desk (components/review_desk.py) behind the reviewer's login."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.models.people import Role
from app.services.departments import department_name
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.frame import frame
from components.review_desk import ReviewDesk
from components.testids import tid
from components.texts import t
from pages.parts import Started

LOGOUT_JS = "fetch('/auth/logout', {method: 'POST'}).then(() => { location.href = '/login?reason=logged_out'; })"


async def review_page(started: Started, request: Request) -> Response | None:
    parts = await started.ready()
    rt = parts.runtime
    staff = await parts.guard.require(request, Role.REVIEWER)
    if isinstance(staff, Response):
        return staff
    with frame(t('review.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        with ui.row().classes('w-full items-center justify-between'):
            department = await department_name(rt.db, staff.principal.department_id)
            tid(ui.label(f'{t("review.title")} · {department}'), 'review-department').classes('text-2xl font-bold')
            with ui.row().classes('items-center gap-3'):
                ui.label(staff.principal.display_name).classes('text-grey-8')
                ui.button(t('review.logout'), on_click=lambda: ui.run_javascript(LOGOUT_JS)).props('flat dense')
        await ReviewDesk(rt.journey, parts.journey_feed, staff, tz=rt.settings.tz).build()
    return None
