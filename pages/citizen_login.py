"""`/me/login?next=/me`: a citizen signs in on the phone with a texted code; the session lands in an HttpOnly cookie.

The form talks over the page's websocket, which cannot set a cookie: on success the page sends the browser
to /me/complete with a one-time hand-over code bound to this browser (app/api/citizen.py), never the token.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui

from app.api.callers import address_of
from app.api.citizen import citizen_next
from app.security.masking import mask_phone
from app.services.citizen_accounts import normal_phone
from app.services.errors import DomainError
from app.services.principal import Principal
from components import citizen_texts as _texts  # noqa: F401 - registers the texts
from components.phone_frame import phone_frame
from components.testids import tid
from components.texts import error_text, t
from pages.citizen_session import citizen_of
from pages.parts import Started

COOL_DOWN_SECONDS = 60  # before another code may be asked for from this page (the service limits too)
REASONS = {'expired': 'citizen.login.expired', 'logged_out': 'citizen.login.logged_out'}


async def citizen_login_page(
    started: Started, request: Request, next: str = '/me', reason: str = ''
) -> RedirectResponse | None:
    rt = (await started.ready()).runtime
    target = citizen_next(next)
    if (await citizen_of(request, started)).account_id is not None:
        return RedirectResponse(target, status_code=303)  # signed in already
    caller = Principal.anonymous(address_of(request, rt.settings.trusted_proxies))
    browser_id = str(app.storage.browser['id'])  # the hand-over code works only in this browser
    user_agent = request.headers.get('user-agent', '')  # named in 登录设备 (app/services/device_names.py)

    def cooled() -> None:
        send.set_text(t('citizen.login.send'))
        send.enable()

    async def send_code() -> None:
        error.set_text('')
        try:
            sent = await rt.accounts.request_code(str(phone.value or ''), caller)
        except DomainError as failure:
            error.set_text(error_text(failure))
            return
        shown = mask_phone(normal_phone(str(phone.value or '')))
        status.set_text(t('citizen.login.sent', phone=shown, minutes=sent.expires_in // 60))
        send.disable()
        send.set_text(t('citizen.login.resend_in', n=COOL_DOWN_SECONDS))
        ui.timer(COOL_DOWN_SECONDS, cooled, once=True)
        code.run_method('focus')

    async def sign_in() -> None:
        error.set_text('')
        try:
            signed = await rt.accounts.sign_in(
                str(phone.value or ''), str(code.value or ''), caller, user_agent=user_agent
            )
        except DomainError as failure:
            code.set_value('')
            error.set_text(error_text(failure))
            return
        handover = rt.accounts.handoff.issue(signed.token, browser_id)
        ui.navigate.to(f'/me/complete?code={handover}&next={quote(target)}')

    with (
        phone_frame(t('citizen.login.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins),
        tid(ui.card(), 'citizen-login'),
    ):
        ui.label(t('citizen.login.title')).classes('text-xl font-bold')
        if reason in REASONS:
            tid(ui.label(t(REASONS[reason])), 'citizen-login-reason').classes('text-sm text-grey-8')
        ui.label(t('citizen.login.why')).classes('text-sm text-grey-8')
        phone = tid(ui.input(t('citizen.login.phone')), 'citizen-phone').classes('w-full')
        phone.props('outlined inputmode=tel autocomplete=tel maxlength=20 size=lg')
        send = tid(ui.button(t('citizen.login.send'), on_click=send_code), 'citizen-send-code')
        send.props('outline no-caps').classes('w-full')
        status = tid(ui.label(), 'citizen-code-sent').classes('text-sm text-positive')
        code = tid(ui.input(t('citizen.login.code')), 'citizen-code').classes('w-full')
        code.props('outlined maxlength=6 inputmode=numeric autocomplete=one-time-code size=lg')
        code.on('keydown.enter', sign_in)
        error = tid(ui.label(), 'citizen-login-error').classes('text-negative text-sm').props('role=alert')
        tid(ui.button(t('citizen.login.submit'), on_click=sign_in), 'citizen-sign-in').classes('w-full').props(
            'size=lg'
        )
        ui.link(t('citizen.login.staff'), '/login').classes('text-xs text-grey-7 self-end')
    return None
