"""`/login`: staff, reviewers, managers and admins sign in; the session lands in an HttpOnly cookie."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from nicegui import app, ui

from app.api.callers import address_of
from app.api.web_session import SESSION_COOKIE, safe_next
from app.services.auth import SessionEnd
from app.services.errors import DomainError
from components.frame import frame
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started

REASONS = {reason: f'login.{reason}' for reason in SessionEnd}
NEW_PASSWORD_ASKED = ('password_change_required', 'weak_password', 'password_unchanged')  # after an admin's reset


async def login_page(started: Started, request: Request, next: str = '/', reason: str = '') -> None:
    rt = (await started.ready()).runtime
    target = safe_next(next)
    previous = request.cookies.get(SESSION_COOKIE)
    address = address_of(request, rt.settings.trusted_proxies)
    browser_id = str(app.storage.browser['id'])  # the hand-off code works only in this browser

    async def submit() -> None:
        error.set_text('')
        try:
            issued = await rt.auth.login(
                username.value or '',
                password.value or '',
                totp=totp.value or '',
                client_address=address,
                previous_token=previous,
                new_password=new_password.value or '',
            )
        except DomainError as failure:
            totp.set_value('')
            if failure.code == 'second_factor_required':
                totp.set_visibility(True)
                totp.run_method('focus')
            elif failure.code in NEW_PASSWORD_ASKED:  # the one-time password was right: keep it, ask for a new one
                new_password.set_value('')
                new_password.set_visibility(True)
                new_password.run_method('focus')
            else:
                password.set_value('')
            error.set_text(error_text(failure))
            return
        code = rt.auth.handoff.issue(issued.token, browser_id)
        landing = f'/enrol?next={quote(target)}' if issued.enrolment_only else target
        ui.navigate.to(f'/auth/complete?code={code}&next={quote(landing)}')

    with (
        frame(t('login.title'), hall_name=rt.hall.name, stand_ins=rt.stand_ins),
        ui.card().classes('w-96 self-center mt-16 p-6 gap-4'),
    ):
        ui.label(t('login.title')).classes('text-2xl font-bold')
        if reason in REASONS:
            ui.label(t(REASONS[reason])).classes('text-sm text-grey-8')
        username = tid(ui.input(t('login.username')), 'login-username').classes('w-full').props('autofocus')
        password = tid(
            ui.input(t('login.password'), password=True, password_toggle_button=True), 'login-password'
        ).classes('w-full')
        password.on('keydown.enter', submit)
        new_password = tid(
            ui.input(t('login.new_password'), password=True, password_toggle_button=True), 'login-new-password'
        )
        new_password.classes('w-full').props('autocomplete=new-password').set_visibility(False)
        new_password.on('keydown.enter', submit)
        totp = tid(ui.input(t('login.totp')).props('inputmode=numeric autocomplete=one-time-code'), 'login-totp')
        totp.classes('w-full').set_visibility(False)
        totp.on('keydown.enter', submit)
        error = tid(ui.label(), 'login-error').classes('text-negative text-sm')
        tid(ui.button(t('login.submit'), on_click=submit), 'login-submit').classes('w-full')
