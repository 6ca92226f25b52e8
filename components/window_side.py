"""The desk's side column: window state, this window's queues (bound to the twin), parked tickets, 跳号呼叫."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.hall import WindowState
from app.services.window_desk import ParkedTicket, ServedService
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.hours_texts import hours_text
from components.testids import tid
from components.texts import t
from twin.hall import QueueTwin, WindowTwin

StateAction = Callable[[WindowState], Awaitable[None]]
NumberAction = Callable[[str], Awaitable[None]]
CallAction = Callable[[str, str], Awaitable[bool]]

STATE_CLASSES = {'open': 'bg-green-1 text-green-10', 'paused': 'bg-amber-1 text-amber-10', 'closed': 'bg-grey-3'}


def state_card(window: WindowTwin | None, state: str, on_state: StateAction) -> None:
    with ui.card().classes('w-full p-4 gap-2'):
        with ui.row().classes('w-full items-center justify-between'):
            ui.label(t('desk.state')).classes('font-bold')
            badge = tid(ui.label(t(f'window.state.{state}')), 'desk-state').classes('px-2 rounded text-sm')
            badge.classes(STATE_CLASSES.get(state, ''))
            if window is not None:
                badge.bind_text_from(window, 'state', backward=lambda s: t(f'window.state.{s}'))
        if window is not None:
            tid(ui.label(t('hours.label', hours=hours_text(window.hours))), 'desk-hours').classes('text-sm text-grey-8')
            off = tid(ui.label(t('desk.off_hours')), 'desk-off-hours').classes('text-sm text-negative')
            off.bind_visibility_from(window, 'off_hours')
        with ui.row().classes('w-full gap-2 no-wrap'):
            for target, key in (
                (WindowState.OPEN, 'desk.open_window'),
                (WindowState.PAUSED, 'desk.pause_window'),
                (WindowState.CLOSED, 'desk.close_window'),
            ):
                button = tid(ui.button(t(key), on_click=lambda s=target: on_state(s)), f'desk-state-{target.value}')
                button.props('outline dense' if state != target.value else 'unelevated dense').classes('flex-grow')


def _wait(queue: QueueTwin) -> str:
    if not queue.waiting:
        return t('desk.wait_empty')
    if not queue.eta_minutes:
        return t('desk.wait_none', n=queue.waiting)
    return t('desk.wait', n=queue.waiting, m=queue.eta_minutes)


def queue_card(services: tuple[ServedService, ...], queues: dict[int, QueueTwin]) -> None:
    with ui.card().classes('w-full p-4 gap-2'):
        ui.label(t('desk.queue')).classes('font-bold')
        for service in services:
            queue = queues.get(service.id)
            with ui.row().classes('w-full items-center justify-between no-wrap gap-2'):
                with ui.row().classes('items-center gap-2 no-wrap'):
                    ui.label(t('desk.tier.1' if service.tier == 1 else 'desk.tier.2')).classes(
                        'text-xs rounded px-1 ' + ('bg-primary text-white' if service.tier == 1 else 'bg-grey-3')
                    )
                    ui.label(service.name).classes('text-sm ellipsis')
                label = tid(ui.label(), f'desk-queue-{service.code}').classes('text-sm font-bold whitespace-nowrap')
                if queue is not None:
                    label.bind_text_from(queue, 'waiting', backward=lambda _n, q=queue: _wait(q))
                    label.bind_text_from(queue, 'eta_minutes', backward=lambda _m, q=queue: _wait(q))


def parked_card(parked: tuple[ParkedTicket, ...], on_resume: NumberAction, *, can_resume: bool) -> None:
    with ui.card().classes('w-full p-4 gap-2'):
        ui.label(t('desk.parked')).classes('font-bold')
        if not parked:
            ui.label(t('desk.parked_none')).classes('text-sm text-grey-7')
        for ticket in parked:
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                with ui.column().classes('gap-0'):
                    ui.label(f'{ticket.number} · {ticket.service_name}').classes('text-sm font-bold')
                    if ticket.reason:
                        ui.label(ticket.reason).classes('text-xs text-grey-7')
                button = tid(
                    ui.button(t('desk.resume'), on_click=lambda n=ticket.number: on_resume(n)),
                    f'desk-resume-{ticket.number}',
                )
                button.props('outline dense').set_enabled(can_resume)


class OutOfOrderCard:
    """Built once per page (a re-render would wipe what the staff member is typing); enabled while idle."""

    def __init__(self, on_call: CallAction) -> None:
        self.on_call = on_call
        with ui.card().classes('w-full p-4 gap-2'):
            ui.label(t('desk.out_of_order')).classes('font-bold')
            self.number = tid(ui.input(t('desk.number')), 'ooo-number').props('dense maxlength=8').classes('w-full')
            self.reason = tid(ui.input(t('desk.reason')), 'ooo-reason').props('dense maxlength=200').classes('w-full')
            self.button = tid(ui.button(t('desk.call'), on_click=self._call), 'ooo-call').props('outline')
            self.button.classes('w-full')

    async def _call(self) -> None:
        if await self.on_call(self.number.value or '', self.reason.value or ''):
            self.number.set_value('')
            self.reason.set_value('')

    def set_enabled(self, enabled: bool) -> None:
        self.button.set_enabled(enabled)
