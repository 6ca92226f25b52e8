"""`/proxy/{token}/status`: a relative's light live view of what a grant covers (亲情代办, no NiceGUI client).

The proxy service admits the link as it does for `/proxy/{token}` (and records the first opening: the citizen
sees "已加入" whichever page the relative opens first). A grant of a ticket: the document is drawn from the ticket
as it is, `/live/proxy/{token}` (pages/proxy_live.py) keeps it current, and the cases opened from it follow under
it over `/live/proxy/{token}/cases` (pages/proxy_cases_live.py). A grant of a case without a ticket: the case
alone, over the same cases socket. Both until the grant ends. An unknown, ended or expired link gets the service's
one refusal in a small page (404, as any public page that is not there).
"""

from __future__ import annotations

from dataclasses import replace

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from app.api.callers import address_of
from app.models.ticket import PriorityClass
from app.services.errors import DomainError
from components.proxy_cases import CASES_CSS, cases_document, cases_section
from components.proxy_status import proxy_frame
from components.track_status import status_document
from pages.parts import Started
from pages.track_status import NO_STORE, refused_page


async def proxy_status_page(started: Started, token: str, request: Request) -> Response:
    parts = await started.ready()
    rt = parts.runtime
    try:
        access = await rt.journey.proxy.join(token, client_address=address_of(request, rt.settings.trusted_proxies))
    except DomainError as failure:
        return refused_page(failure, rt.settings.lang)
    frame = proxy_frame(token, access.grant, rt.settings.tz)
    headers = {**NO_STORE, 'referrer-policy': 'no-referrer'}
    if access.tracked.ticket_id is None:
        document = cases_document(frame=frame, token=token, hall_name=rt.hall.name, stand_ins=rt.stand_ins)
        return HTMLResponse(document, headers=headers)
    view = await rt.queue.ticket_view_by_id(access.tracked.ticket_id)
    document = status_document(
        frame=replace(frame, after=cases_section(token, hidden_until_cases=True), css=CASES_CSS),
        number=view.ticket.number,
        service_name=view.service.name,
        green=view.ticket.priority_class == PriorityClass.GREEN,
        arrival_qr='',  # the arrival code is the citizen's own, to show at the entrance: not the relative's
        hall_name=rt.hall.name,
        stand_ins=rt.stand_ins,
    )
    return HTMLResponse(document, headers=headers)
