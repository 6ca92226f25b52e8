"""The ticket on screen: number, service, people ahead, wait with its range, and a QR code to /track.

The QR code is drawn here (qrcode, SVG as a data URI): no image file, no third-party service, and an
ASCII payload that every phone camera reads.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

import qrcode
import qrcode.image.svg
from nicegui import ui

from app.api.schemas import TicketOut
from app.models.ticket import PriorityClass
from app.services.queue import TicketView
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import confirms, heading
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t

Action = Callable[[], Awaitable[None] | None]


def qr_data_uri(text: str) -> str:
    """An SVG QR code of an ASCII text, as a data: URI for an <img>."""
    text.encode('ascii')  # a non-ASCII payload is a bug: zbar and many phones garble it
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return 'data:image/svg+xml;base64,' + base64.b64encode(image.to_string()).decode()


def _wait_text(out: TicketOut) -> str:
    if out.eta_minutes is None or out.eta_range is None:
        return t('kiosk.ticket.no_eta')
    low, high = out.eta_range
    if out.eta_minutes == 0:
        return t('kiosk.ticket.eta_soon', high=high)
    return t('kiosk.ticket.eta', m=out.eta_minutes, low=low, high=high)


def ticket_view(view: TicketView, *, track_url: str, window_hint: str, on_done: Action) -> ui.label:
    """Returns the print-status label, which the caller fills in once the printer has answered."""
    out = TicketOut.of(view)
    card = ui.card().classes('w-full p-8 no-shadow border')
    with card, ui.row().classes('w-full items-center justify-center gap-10'):
        with ui.column().classes('items-center gap-3 min-w-[420px]'):
            heading(ui.label(t('kiosk.ticket.your_number'))).classes('kiosk-muted text-[1.1em]')
            number = tid(ui.label(out.number), 'kiosk-ticket-number').classes('font-mono font-bold text-primary')
            number.style('font-size: 5.5em; line-height: 1')
            ui.label(pick(view.service.name, view.service.name_en)).classes('text-[1.4em] font-bold text-center')
            if view.ticket.priority_class == PriorityClass.GREEN:
                green = tid(ui.label(t('kiosk.green')), 'kiosk-ticket-green')
                green.classes('bg-positive text-white rounded-lg px-4 py-1 font-bold')
            ahead = t('kiosk.ticket.next') if not out.ahead else t('kiosk.ticket.ahead', n=out.ahead)
            tid(ui.label(ahead), 'kiosk-ticket-ahead').classes('text-[1.3em] font-bold')
            tid(ui.label(_wait_text(out)), 'kiosk-ticket-eta').classes('text-[1.1em] text-center')
            if window_hint:
                ui.label(t('kiosk.ticket.windows', hint=window_hint)).classes('kiosk-muted text-center')
        with ui.column().classes('items-center gap-3'):
            with ui.element('div').classes('bg-white p-3 rounded-lg'):
                qr = tid(ui.image(qr_data_uri(track_url)), 'kiosk-ticket-qr').classes('w-56 h-56')
                qr.props(f'no-spinner alt="{t("kiosk.ticket.scan")}"')
            ui.label(t('kiosk.ticket.scan')).classes('kiosk-muted text-center text-[0.85em]')
            status = tid(ui.label(t('kiosk.ticket.printing')), 'kiosk-print-status').props('role=status')
            status.classes('text-[1.1em] font-bold text-center max-w-[360px]')
    ui.label(t('kiosk.ticket.listen')).classes('kiosk-muted text-center w-full')
    done = tid(ui.button(t('kiosk.ticket.done'), on_click=on_done), 'kiosk-ticket-done')
    confirms(done).props('unelevated size=xl').classes('w-full text-[1.2em]')
    return status
