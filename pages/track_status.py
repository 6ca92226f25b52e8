"""`/track/{code}/status`: a ticket's live status for the phones that keep it open (no login, nothing personal).

A light route, not a NiceGUI page (components/track_status.py says why): the tracking service admits the code
as it does for `/track/{code}` (unknown codes count against the address), the document is drawn from the ticket
as it is, and `/live/track/{code}` (pages/track_live.py) keeps it current. A refused code gets the service's
words in a small page (404, or 429 for an address locked out for probing); a code that tracks a case without a
ticket goes to `/track/{code}`.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.callers import address_of
from app.models.ticket import PriorityClass
from app.services.errors import DomainError
from app.services.remote_queue import ticket_qr
from components.kiosk_ticket import qr_data_uri
from components.texts import error_text
from components.track_status import StatusFrame, status_document
from pages.parts import Started

REFUSED_PAGE = """<!doctype html><html lang="{lang}"><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<body style="font-family:sans-serif;padding:1.5rem"><h1 style="font-size:1.25rem">{title}</h1>
<p data-testid="track-error">{words}</p></body></html>"""
NO_STORE = {'cache-control': 'no-store'}


async def track_status_page(started: Started, code: str, request: Request) -> Response:
    parts = await started.ready()
    rt = parts.runtime
    address = address_of(request, rt.settings.trusted_proxies)
    try:
        tracked = await rt.journey.tracking.follow(code, address=address)
    except DomainError as failure:
        return refused_page(failure, rt.settings.lang)
    if tracked.ticket_id is None:
        return RedirectResponse(f'/track/{quote(tracked.code, safe="")}', status_code=303)
    view = await rt.queue.ticket_view_by_id(tracked.ticket_id)
    arrival = ticket_qr(rt.settings.secret, view.ticket.code) if view.ticket.awaiting_arrival else ''
    document = status_document(
        frame=StatusFrame.for_code(tracked.code),
        number=tracked.number,
        service_name=view.service.name,
        green=view.ticket.priority_class == PriorityClass.GREEN,
        arrival_qr=qr_data_uri(arrival) if arrival else '',
        hall_name=rt.hall.name,
        stand_ins=rt.stand_ins,
    )
    return HTMLResponse(document, headers=NO_STORE)


def refused_page(failure: DomainError, lang: str) -> HTMLResponse:
    """A light page the service refused: its words; an unknown key is a page that is not there (404), as for any
    public page."""
    status = 404 if failure.status == 403 else failure.status
    page = REFUSED_PAGE.format(lang=lang, title=status, words=escape(error_text(failure)))
    return HTMLResponse(page, status_code=status, headers=NO_STORE)
