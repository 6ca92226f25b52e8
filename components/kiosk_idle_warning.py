"""The warning before an idle kiosk starts over (适老化: no step times out without warning): 继续 keeps it."""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from components import kiosk_voice as _texts  # noqa: F401 - registers the texts
from components.testids import tid
from components.texts import t


def idle_warning(seconds: int, on_continue: Callable[[], None]) -> ui.dialog:
    """A dialog that says how long is left; any tap on the screen (or 继续) keeps the citizen's place."""
    dialog = tid(ui.dialog(), 'kiosk-idle-warning').props('persistent')
    with dialog, ui.card().classes('p-10 gap-6 items-center text-center').style('font-size: 28px; line-height: 1.5'):
        ui.label(t('kiosk.idle.title')).classes('font-bold').style('font-size: 1.4em')
        ui.label(t('kiosk.idle.body', n=seconds))
        button = tid(ui.button(t('kiosk.idle.continue'), on_click=on_continue), 'kiosk-idle-continue')
        button.props('unelevated size=xl color=primary').classes('w-full').style('min-height: 88px')
    return dialog
