"""The chosen service: a few questions, the personalised material list, and the button that takes the number."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.models.hall import ServiceItem
from app.services import materials
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import confirms, goes_back, heading, key_cap, numbered
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t

Answer = Callable[[str, str], Awaitable[None] | None]
Action = Callable[[], Awaitable[None] | None]


def material_list(checklist: materials.Checklist, *, marker: str = 'materials') -> None:
    """Required items ticked, undecided ones with the answer that would require them (kiosk and window)."""
    with tid(ui.column(), marker).classes('w-full gap-2'):
        if not checklist.items:
            ui.label(t('kiosk.materials.none')).classes('kiosk-muted')
        for item in checklist.items:
            required = item.need == materials.Need.REQUIRED
            with ui.row().classes('items-start gap-3 no-wrap'):
                ui.icon('check_circle' if required else 'help_outline').classes(
                    'text-positive' if required else 'text-warning'
                ).style('font-size: 1.3em')
                with ui.column().classes('gap-0'):
                    ui.label(pick(item.name, item.name_en))
                    if not required:
                        labels = '」或「'.join(
                            pick(zh, en) for zh, en in zip(item.because, item.because_en, strict=True)
                        )
                        ui.label(t('kiosk.depends', labels=labels)).classes('kiosk-muted text-[0.75em]')


def checklist_view(
    service: ServiceItem,
    checklist: materials.Checklist,
    *,
    on_answer: Answer,
    on_take: Action,
    on_back: Action,
) -> None:
    with ui.row().classes('w-full items-center gap-4 no-wrap'):
        ui.label(service.ticket_prefix).classes('bg-primary text-white rounded-lg text-center font-bold').style(
            'width: 1.9em; height: 1.9em; line-height: 1.9em'
        )
        chosen_service = tid(ui.label(pick(service.name, service.name_en)), 'kiosk-chosen-service')
        heading(chosen_service).classes('text-[1.6em] font-bold')
    if service.description:
        ui.label(service.description).classes('kiosk-muted')
    asked = materials.questions(service)
    if asked:
        ui.label(t('kiosk.questions')).classes('font-bold mt-2')
    number = 0
    for question in asked:
        with ui.card().classes('w-full p-4 gap-3 no-shadow border'):
            ui.label(pick(question.text, question.text_en)).classes('font-bold')
            options = ui.row().classes('gap-3').props('role=group')
            options.props['aria-label'] = pick(question.text, question.text_en)
            with options:
                for option in question.options:
                    number += 1
                    chosen = checklist.answers.get(question.code) == option.value
                    button = tid(
                        ui.button(
                            pick(option.label, option.label_en),
                            on_click=lambda q=question.code, v=option.value: on_answer(q, v),
                        ),
                        f'kiosk-answer-{question.code}-{option.value}',
                    )
                    button.props('unelevated no-caps' if chosen else 'outline no-caps').classes('px-6')
                    button.props(f'aria-pressed={"true" if chosen else "false"}')
                    if chosen:
                        button.props('icon=check')
                    with numbered(button, number):
                        key_cap(number).classes('ml-3')
    with ui.card().classes('w-full p-4 gap-3 no-shadow border'):
        ui.label(t('kiosk.materials')).classes('text-[1.2em] font-bold')
        material_list(checklist, marker='kiosk-materials')
    with ui.row().classes('w-full gap-4 no-wrap'):
        back = tid(ui.button(t('kiosk.other_service'), on_click=on_back), 'kiosk-other-service')
        goes_back(back).props('outline size=lg')
        take = tid(ui.button(t('kiosk.take'), on_click=on_take), 'kiosk-take').props(
            'unelevated size=xl icon=confirmation_number'
        )
        confirms(take)
        take.classes('flex-grow text-[1.3em]')
