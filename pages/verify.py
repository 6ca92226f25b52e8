"""`/verify/{number}`: what the QR on an e-certificate opens: genuine, altered, revoked or unknown.

Anyone may check (no login). The stored certificate is checked against its issue record in the audit
chain; a presented copy (pasted or uploaded JSON) is checked too, so an edited file shows as altered.
"""

from __future__ import annotations

from typing import Any

from nicegui import events, ui

from app.services.certificates import (
    ALTERED,
    GENUINE,
    MAX_PRESENTED_BYTES,
    REVOKED,
    UNKNOWN,
    CertificateService,
    Verification,
    check_presented_size,
    parse_presented,
)
from app.services.errors import DomainError
from components import journey_texts as _texts  # noqa: F401 - registers the texts
from components.file_field import file_field
from components.phone_frame import phone_frame
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started

VERDICT_CLASSES = {
    GENUINE: 'bg-green-1 text-green-10',
    ALTERED: 'bg-red-1 text-red-10',
    REVOKED: 'bg-amber-1 text-amber-10',
    UNKNOWN: 'bg-grey-3 text-grey-9',
}
VERDICT_ICONS = {GENUINE: 'verified', ALTERED: 'gpp_bad', REVOKED: 'block', UNKNOWN: 'help_outline'}


def verdict(result: Verification, tz: Any) -> None:
    with tid(ui.card(), 'verify-result').classes(f'w-full p-4 gap-2 no-shadow {VERDICT_CLASSES[result.status]}'):
        with ui.row().classes('items-center gap-2 no-wrap'):
            ui.icon(VERDICT_ICONS[result.status]).classes('text-3xl')
            tid(ui.label(t(f'verify.{result.status}')), 'verify-status').classes('text-lg font-bold').props(
                f'data-status={result.status}'
            )
        if result.reason and result.status != GENUINE:
            ui.label(result.reason).classes('text-sm')
        if result.status == UNKNOWN:
            return
        rows = [
            ('verify.number', result.number),
            ('verify.kind', result.kind),
            ('verify.holder', result.holder),
            ('verify.issuer', result.issuer),
            (
                'verify.issued_at',
                result.issued_at.astimezone(tz).strftime('%Y-%m-%d %H:%M') if result.issued_at else '',
            ),
        ]
        with ui.grid(columns='auto 1fr').classes('gap-x-3 gap-y-1 text-sm'):
            for key, value in rows:
                ui.label(t(key)).classes('text-grey-8')
                ui.label(value).classes('break-all')


async def verify_page(started: Started, number: str) -> None:
    rt = (await started.ready()).runtime
    certificates: CertificateService = rt.journey.certificates
    tz = rt.settings.tz
    with phone_frame(t('verify.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins):
        result_box = ui.column().classes('w-full')
        with result_box:
            verdict(await certificates.verify(number), tz)

        async def check(text: str) -> None:
            error.set_text('')
            try:
                presented = parse_presented(text)
            except DomainError as failure:
                error.set_text(error_text(failure))
                return
            result = await certificates.verify(number, presented)
            result_box.clear()
            with result_box:
                verdict(result, tz)

        async def uploaded(event: events.UploadEventArguments) -> None:
            """Only a file that can be a certificate is read (the route's body limit has bounded it already)."""
            try:
                check_presented_size(event.file.size())
            except DomainError as failure:
                error.set_text(error_text(failure))
                return
            await check((await event.file.read()).decode('utf-8', errors='replace'))

        with ui.card().classes('w-full p-4 gap-2'):
            ui.label(t('verify.present')).classes('text-base font-bold')
            pasted = tid(ui.textarea(t('verify.paste')), 'verify-input').classes('w-full').props('outlined')
            error = tid(ui.label(), 'verify-error').classes('text-negative text-sm')
            tid(ui.button(t('verify.check'), on_click=lambda: check(pasted.value or '')), 'verify-check').classes(
                'w-full'
            )
            upload = ui.upload(on_upload=uploaded, auto_upload=True, max_file_size=MAX_PRESENTED_BYTES)
            file_field(upload, label=t('verify.upload'), accept='.json,application/json').props('flat bordered')
            upload.classes('w-full')
