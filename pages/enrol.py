"""`/enrol`: a signed-in person sets up their TOTP second factor (managers and admins must, before anything else)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from nicegui import ui

from app.api.callers import address_of
from app.api.web_session import SESSION_COOKIE, login_url, safe_next
from app.services.errors import DomainError, Unauthorized
from components.frame import frame
from components.kiosk_ticket import qr_data_uri
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


async def enrol_page(started: Started, request: Request, next: str = '/') -> Response | None:
    rt = (await started.ready()).runtime
    target = safe_next(next)
    path = request.url.path + (f'?{request.url.query}' if request.url.query else '')
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return RedirectResponse(login_url(path), status_code=303)
    try:
        caller = await rt.auth.authenticate(token, enrolling=True)
    except Unauthorized:
        return RedirectResponse(login_url(path, 'expired'), status_code=303)
    caller = caller.with_address(address_of(request, rt.settings.trusted_proxies))
    enrolled = await rt.auth.is_enrolled(caller)
    uri = '' if enrolled else await rt.auth.begin_enrolment(caller, rt.hall.name)

    async def confirm() -> None:
        error.set_text('')
        try:
            fresh = await rt.auth.authenticate(token, enrolling=True)
            codes = await rt.auth.confirm_enrolment(fresh.with_address(caller.address), code.value or '')
        except DomainError as failure:
            code.set_value('')
            error.set_text(error_text(failure))
            return
        setup.set_visibility(False)
        with done:
            ui.label(t('enrol.done')).classes('text-sm')
            with tid(ui.column(), 'enrol-recovery-codes').classes('gap-1 font-mono'):
                for recovery in codes:
                    ui.label(recovery)
            tid(ui.link(t('enrol.continue'), target), 'enrol-continue')

    with (
        frame(t('enrol.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins),
        ui.card().classes('w-96 max-w-full self-center mt-8 p-6 gap-4'),
    ):
        ui.label(t('enrol.title')).classes('text-2xl font-bold')
        if enrolled:
            ui.label(t('enrol.already'))
            tid(ui.link(t('enrol.continue'), target), 'enrol-continue')
            return None
        with ui.column().classes('w-full gap-3') as setup:
            ui.label(t('enrol.scan')).classes('text-sm')
            qr = tid(ui.image(qr_data_uri(uri)), 'enrol-qr').classes('w-56 self-center')
            qr.props['alt'] = t('enrol.scan')
            tid(ui.label(uri.split('secret=')[1].split('&')[0]), 'enrol-secret').classes('font-mono text-xs break-all')
            code = tid(ui.input(t('enrol.code')).props('inputmode=numeric autocomplete=one-time-code'), 'enrol-code')
            code.classes('w-full').on('keydown.enter', confirm)
            error = tid(ui.label(), 'enrol-error').classes('text-negative text-sm')
            tid(ui.button(t('enrol.confirm'), on_click=confirm), 'enrol-confirm').classes('w-full')
        done = ui.column().classes('w-full gap-2')
    return None
