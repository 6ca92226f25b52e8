"""`/me` ("我的"): a citizen signed in on the phone sees their tickets, bookings, cases, consents,
grants and signed-in devices, live.

Anonymous visitors are sent to the phone sign-in first; the screen is components/me_screen.py.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from app.api.citizen import CITIZEN_COOKIE
from components import me_texts as _texts  # noqa: F401 - registers the texts
from components.me_devices import DevicesPanel
from components.me_screen import MeScreen
from components.phone_frame import phone_frame
from components.texts import t
from pages.citizen_session import require_citizen
from pages.parts import Started


async def me_page(started: Started, request: Request) -> RedirectResponse | None:
    parts = await started.ready()
    rt = parts.runtime
    caller = await require_citizen(request, started)
    if isinstance(caller, RedirectResponse):
        return caller
    with phone_frame(t('me.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        screen = MeScreen(
            rt.journey,
            rt.queue,
            parts.journey_feed,
            caller,
            tz=rt.settings.tz,
            base_url=str(request.base_url).rstrip('/'),
        )
        await screen.build()
        token = request.cookies.get(CITIZEN_COOKIE, '')
        await DevicesPanel(rt.accounts, token, caller, tz=rt.settings.tz).draw()
