"""工作人员协助 at the kiosk: the clerk's small sign-in, and the bar shown while they assist.

The sign-in is the clerk's own account (checked, locked out and audited by the login service); the
password field is cleared whatever the outcome. While a clerk assists, the bar names them, lets them
set priority needs they can see (disability, pregnancy) and ends the assist.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.kiosk import Assist
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.testids import tid
from components.texts import t

SignIn = Callable[[str, str], Awaitable[str | None]]  # username, password -> an error message, or None
Priority = Callable[[bool, bool], Awaitable[None]]  # disability, pregnancy
Action = Callable[[], Awaitable[None]]


def assist_dialog(on_sign_in: SignIn) -> ui.dialog:
    """A closed dialog; `open()` it from the header's 工作人员协助 button."""
    with ui.dialog() as dialog, tid(ui.card(), 'kiosk-assist-dialog').classes('p-6 gap-4 min-w-[520px]'):
        ui.label(t('kiosk.assist.title')).classes('text-[1.4em] font-bold')
        ui.label(t('kiosk.assist.hint')).classes('kiosk-muted')
        username = tid(ui.input(t('login.username')), 'kiosk-assist-username').classes('w-full')
        username.props('outlined autocomplete=off maxlength=64')
        password = tid(ui.input(t('login.password'), password=True), 'kiosk-assist-password').classes('w-full')
        password.props('outlined autocomplete=off maxlength=256')
        error = tid(ui.label(''), 'kiosk-assist-error').classes('text-negative')

        async def submit() -> None:
            name, secret = username.value or '', password.value or ''
            password.set_value('')
            problem = await on_sign_in(name, secret)
            error.set_text(problem or '')
            if problem is None:
                username.set_value('')
                dialog.close()

        password.on('keydown.enter', submit)
        with ui.row().classes('w-full justify-end gap-3'):
            tid(ui.button(t('kiosk.assist.cancel'), on_click=dialog.close), 'kiosk-assist-cancel').props('flat')
            tid(ui.button(t('kiosk.assist.sign_in'), on_click=submit), 'kiosk-assist-submit').props('unelevated')
    return dialog


def assist_bar(assist: Assist, *, disability: bool, pregnancy: bool, on_priority: Priority, on_end: Action) -> None:
    """Who assists, the priority needs they may set, and 结束协助."""
    bar = tid(ui.row(), 'kiosk-assist-bar').classes('w-full items-center gap-4 px-6 py-2 bg-amber-2 text-black no-wrap')
    with bar:
        ui.icon('support_agent').classes('text-primary').style('font-size: 1.6em')
        tid(ui.label(t('kiosk.assist.by', name=assist.display_name)), 'kiosk-assist-by').classes('font-bold')
        needs = ui.row().classes('items-center gap-2 flex-grow')
        with needs:
            ui.label(t('kiosk.assist.priority'))
            disabled = tid(ui.checkbox(t('kiosk.assist.disability'), value=disability), 'kiosk-assist-disability')
            pregnant = tid(ui.checkbox(t('kiosk.assist.pregnancy'), value=pregnancy), 'kiosk-assist-pregnancy')

        async def changed() -> None:
            await on_priority(bool(disabled.value), bool(pregnant.value))

        disabled.on_value_change(changed)
        pregnant.on_value_change(changed)
        tid(ui.button(t('kiosk.assist.end'), on_click=on_end), 'kiosk-assist-end').props('outline icon=logout')
