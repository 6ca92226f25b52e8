"""`/track/{code}`: a citizen follows a ticket and its case from a phone, no login.

The page checks the code and wires the screen (components/track_screen.py) to the journey services,
the queue and the process's journey feed. The ticket's status alone, for phones that keep it open for long, is
the light `/track/{code}/status` (pages/track_status.py), which costs no NiceGUI client.
"""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.api.callers import address_of
from app.services.errors import DomainError
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.phone_frame import phone_frame
from components.testids import tid
from components.texts import error_text, t
from components.track_screen import TrackScreen
from pages.parts import Started


async def track_page(started: Started, code: str, request: Request) -> None:
    parts = await started.ready()
    rt = parts.runtime
    base_url = str(request.base_url).rstrip('/')
    address = address_of(request, rt.settings.trusted_proxies)
    with phone_frame(t('track.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        try:
            tracked = await rt.journey.tracking.follow(code, address=address)
        except DomainError as failure:
            with tid(ui.card(), 'track-gate').classes('w-full p-4 gap-3'):
                tid(ui.label(error_text(failure)), 'track-error').classes('text-negative text-base')
            return
        screen = TrackScreen(
            rt.journey,
            rt.queue,
            parts.journey_feed,
            tracked,
            handoffs=rt.handoffs,
            tz=rt.settings.tz,
            lang=rt.settings.lang,
            base_url=base_url,
            address=address,
        )
        await screen.build()
