"""The ticket at the window: number, service, running time, the masked citizen, kiosk answers, materials."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.ticket import PriorityClass
from app.services.window_desk import CurrentTicket
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.kiosk_checklist import material_list
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t
from components.window_timer import ServiceTimer

PRIORITY_BADGES = {
    PriorityClass.GREEN: ('desk.priority.green', 'bg-positive text-white'),
    PriorityClass.APPOINTMENT: ('desk.priority.appointment', 'bg-secondary text-white'),
}


def current_ticket(current: CurrentTicket, on_unmask: Callable[[], Awaitable[None]] | None = None) -> None:
    view = current.view
    ticket = view.ticket
    with ui.row().classes('w-full items-center gap-6 no-wrap'):
        tid(ui.label(ticket.number), 'desk-current-number').classes('text-6xl font-mono font-bold text-primary')
        with ui.column().classes('gap-1 flex-grow'):
            tid(ui.label(pick(view.service.name, view.service.name_en)), 'desk-current-service').classes(
                'text-xl font-bold'
            )
            with ui.row().classes('gap-2 items-center'):
                badge = PRIORITY_BADGES.get(PriorityClass(ticket.priority_class))
                if badge:
                    tid(ui.label(t(badge[0])), 'desk-priority').classes(f'{badge[1]} rounded px-2 text-sm')
                if ticket.priority_class == PriorityClass.GREEN and ticket.priority_reason:
                    tid(
                        ui.label(green_why(ticket.priority_reason, ticket.priority_set_by)), 'desk-priority-why'
                    ).classes('text-sm text-positive')
                if ticket.recall_count:
                    tid(ui.label(t('desk.recalled', n=ticket.recall_count)), 'desk-recalls').classes(
                        'bg-amber-2 text-amber-10 rounded px-2 text-sm'
                    )
        with ui.column().classes('items-end gap-0 shrink-0'):
            ui.label(t('desk.serving_for')).classes('text-xs text-grey-7')
            tid(ServiceTimer(ticket.called_at), 'desk-timer').classes('text-3xl font-mono font-bold')
    ui.separator()
    with ui.row().classes('w-full gap-8 items-start no-wrap'):
        with ui.column().classes('gap-2 w-72 shrink-0'):
            ui.label(t('desk.citizen')).classes('font-bold')
            citizen = current.citizen
            if citizen is None:
                tid(ui.label(t('desk.anonymous')), 'desk-citizen').classes('text-grey-7 text-sm')
            else:
                with tid(ui.grid(columns='auto 1fr'), 'desk-citizen').classes('gap-x-3 gap-y-1 text-sm'):
                    for key, value in (
                        ('desk.name', citizen.name_masked or '—'),
                        ('desk.id_number', citizen.id_number_masked or '—'),
                        ('desk.phone', citizen.phone_masked or '—'),
                        ('desk.age', str(citizen.age) if citizen.age is not None else '—'),
                    ):
                        ui.label(t(key)).classes('text-grey-7')
                        ui.label(value).classes('font-mono')
                if on_unmask is not None:
                    tid(ui.button(t('desk.unmask'), on_click=on_unmask), 'desk-unmask').props(
                        'flat dense size=sm icon=visibility'
                    )
            if current.account is not None:
                ui.label(t('desk.account')).classes('font-bold mt-2')
                tid(ui.label(account_state(current)), 'desk-account').classes('text-sm font-mono')
            ui.label(t('desk.answers')).classes('font-bold mt-2')
            with tid(ui.column(), 'desk-answers').classes('gap-1 text-sm'):
                if not current.answered:
                    ui.label(t('desk.no_answers')).classes('text-grey-7')
                for question, option in current.answered:
                    ui.label(pick(question.text, question.text_en)).classes('text-grey-7')
                    ui.label(pick(option.label, option.label_en)).classes('font-bold')
        with ui.column().classes('gap-2 flex-grow'):
            ui.label(t('desk.materials')).classes('font-bold')
            material_list(current.checklist, marker='desk-materials')


def green_why(reason: str, set_by: str) -> str:
    """Why the ticket went first and on whose word: '残疾人 · 由 w01 标记', '65岁以上 · 身份证'."""
    why = t(f'desk.green.{reason}') if reason in ('elderly', 'disability', 'pregnancy') else reason
    if set_by == 'id_card':
        return t('desk.green.by_card', why=why)
    return t('desk.green.by', why=why, who=set_by) if set_by else why


def account_state(current: CurrentTicket) -> str:
    """The ticket's phone account and its link, as the clerk reads it (masked phone only)."""
    account = current.account
    assert account is not None
    if account.linked_here:
        key = 'desk.account.linked_here'
    elif account.linked and current.view.ticket.citizen_id is not None:
        key = 'desk.account.linked_elsewhere'
    elif account.linked:
        key = 'desk.account.linked'
    else:
        key = 'desk.account.unlinked'
    return t(key, phone=account.phone_masked)
