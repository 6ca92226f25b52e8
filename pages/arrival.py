"""Arrival of remote tickets (远程取号): the hall's printable entrance code, and the page a phone opens with it.

`/entrance` (managers): the hall's signed entrance code as a big QR to print and hang at the door; it
opens `/arrive/{code}`. `/arrive/{code}` (the citizen signed in on the phone): one tap confirms that the
citizen's remote tickets of today are in the hall. Never the page load itself: a link from another site
must not check anyone in. A phone not signed in is offered /me/login, which brings it back here. The
service decides (a forged or another hall's code is refused, and only the scanning account's own tickets
move); the page only forwards and shows.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.api.citizen import citizen_login_url
from app.models.people import Role
from app.services.errors import DomainError
from app.services.remote_queue import entrance_code, entrance_hall
from components.arrival_view import arrival_result, confirm_button, entrance_sheet, sign_in_first
from components.phone_frame import phone_frame
from components.texts import error_text, t
from pages.citizen_session import citizen_of
from pages.parts import Started


async def entrance_page(started: Started, request: Request) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.MANAGER)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    code = entrance_code(rt.settings.secret, rt.hall.id or 0)
    entrance_sheet(
        str(request.base_url).rstrip('/') + f'/arrive/{code}', hall_name=rt.hall.name, stand_ins=rt.stand_ins
    )
    return None


async def arrive_page(started: Started, request: Request, code: str) -> None:
    caller = await citizen_of(request, started)
    rt = (await started.ready()).runtime
    with phone_frame(t('arrive.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        if caller.account_id is None:
            sign_in_first(citizen_login_url(request.url.path))
            return
        try:
            entrance_hall(rt.settings.secret, code, rt.hall.id or 0)
        except DomainError as error:
            arrival_result(None, error_text(error))
            return

        async def confirm() -> None:
            try:
                views = await rt.queue.arrive_by_entrance(code[:200], caller=caller)
            except DomainError as error:
                answer.clear()
                with answer:
                    arrival_result(None, error_text(error))
                return
            button.set_visibility(False)
            answer.clear()
            with answer:
                arrival_result(views, '')

        button = confirm_button(confirm)
        answer = ui.column().classes('w-full gap-2')
