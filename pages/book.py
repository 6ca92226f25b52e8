"""`/book/{service_code}`: a signed-in citizen books, moves or cancels a visit from the phone.

Anonymous visitors go to /me/login and come back here (with `?start=` kept: the guide links a quiet slot).
The screen is components/booking_screen.py; the rules are app/services/booking.py's.
"""

from __future__ import annotations

import datetime as dt

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from app.services.errors import NotFound
from components import booking_texts as _texts  # noqa: F401 - registers the texts
from components.booking_screen import BookingScreen
from components.phone_frame import phone_frame
from components.testids import tid
from components.texts import error_text, t
from pages.citizen_session import require_citizen
from pages.parts import Started


async def book_page(
    started: Started, service_code: str, request: Request, start: str | None = None
) -> RedirectResponse | None:
    caller = await require_citizen(request, started)
    if isinstance(caller, RedirectResponse):
        return caller
    rt = (await started.ready()).runtime
    bookings = rt.journey.bookings
    with phone_frame(t('book.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        try:
            service = await bookings.service(service_code[:32])
        except NotFound as failure:
            tid(ui.label(error_text(failure)), 'book-unknown').classes('text-negative text-base')
            return None
        tid(ui.label(service.name), 'book-service').classes('text-xl font-bold')
        screen = BookingScreen(
            bookings,
            caller,
            service.code,
            tz=rt.settings.tz,
            lang=rt.settings.lang,
            preselect=_moment(start, rt.settings.tz),
        )
        await screen.build()
    return None


def _moment(text: str | None, tz: dt.tzinfo) -> dt.datetime | None:
    """`?start=` as an aware moment (a time without offset is hall time); anything unreadable preselects nothing."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text[:40])
    except ValueError:
        return None
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment
