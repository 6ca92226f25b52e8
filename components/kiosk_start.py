"""The kiosk's first screen: ID card (or the number typed with staff help), 刷脸, appointment, or by hand.

Only the ways this kiosk's hardware supports are offered; choosing a service by hand always works
(the fallback a face or card failure points to). Typing an ID number is offered only while a clerk
assists (工作人员协助): a number typed by anyone at all would let anyone take a ticket in anyone's name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.device import DeviceKind
from app.services.kiosk import KioskDevice
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import heading, key_cap, numbered, tappable
from components.testids import tid
from components.texts import t

Action = Callable[[], Awaitable[None] | None]
TextAction = Callable[[str], Awaitable[None] | None]


def _tile(icon: str, title: str, hint: str, name: str, *, key: int | None = None) -> ui.card:
    """A way to start; a tile with a `key` acts when tapped, or picked with that number and confirmed."""
    tile = tid(ui.card(), name).classes('kiosk-tile w-full p-5 gap-3 no-shadow border')
    with tile, ui.row().classes('w-full items-center gap-4 no-wrap'):
        ui.icon(icon).classes('text-primary').style('font-size: 2.4em')
        with ui.column().classes('gap-1 flex-grow'):
            ui.label(title).classes('text-[1.4em] font-bold')
            ui.label(hint).classes('kiosk-muted')
        if key is not None:
            key_cap(key)
    if key is not None:
        numbered(tappable(tile, title), key).classes('cursor-pointer')
        with tile:
            ui.label(t('kiosk.tap')).classes('text-primary font-bold self-end mt-auto')
    return tile


def _entry(label: str, name: str, on_submit: TextAction, *, secret: bool = False, max_length: int = 80) -> None:
    """A field with its own confirm button; the value is cleared at once (an ID number never lingers)."""
    with ui.row().classes('w-full items-center gap-2 no-wrap'):
        field = tid(ui.input(label, password=secret, password_toggle_button=secret), f'{name}-input')
        field.classes('flex-grow').props(f'outlined maxlength={max_length} autocomplete=off')

        async def submit() -> None:
            value = field.value or ''
            field.set_value('')
            result = on_submit(value)
            if result is not None:
                await result

        tid(ui.button(t('kiosk.confirm'), on_click=submit), f'{name}-submit').props('unelevated')
        field.on('keydown.enter', submit)


def start_view(
    kiosk: KioskDevice,
    *,
    assisted: bool,
    on_id_number: TextAction,
    on_face: Action,
    on_appointment: TextAction,
    on_manual: Action,
) -> None:
    heading(ui.label(t('kiosk.choose_start'))).classes('text-[1.6em] font-bold')
    grid = ui.element('div').classes('w-full grid gap-4')
    with grid.style('grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr))'):
        reader = kiosk.attached(DeviceKind.ID_READER) is not None
        with _tile(
            'badge',
            t('kiosk.card.title'),
            t('kiosk.card.hint' if reader else 'kiosk.card.no_reader'),
            'kiosk-start-card',
        ):
            if assisted:
                _entry(t('kiosk.card.number'), 'kiosk-id', on_id_number, secret=True, max_length=18)
                ui.label(t('kiosk.card.manual')).classes('kiosk-muted text-[0.75em]')
        if kiosk.attached(DeviceKind.CAMERA) is not None:
            _tile('face', t('kiosk.face.title'), t('kiosk.face.hint'), 'kiosk-start-face', key=2).on('click', on_face)
        with _tile('qr_code_scanner', t('kiosk.appt.title'), t('kiosk.appt.hint'), 'kiosk-start-appointment'):
            _entry(t('kiosk.appt.code'), 'kiosk-appt', on_appointment)
        manual = _tile('touch_app', t('kiosk.manual.title'), t('kiosk.manual.hint'), 'kiosk-start-manual', key=1)
        manual.on('click', on_manual)
