"""问一问 at the kiosk: a citizen types what they need; each fitting service has one tap to take its number.

The tap chooses the service and the kiosk questions the words already answered, so the checklist step opens
personalised. Nothing fitting says so, with 呼叫人工 (the floor staff come) and the hall's phone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.assistant import MAX_QUESTION_CHARS, Answer, Reply
from components import assistant_texts as _texts  # noqa: F401 - registers the texts
from components.assistant_box import handoff_lines, reasons_text
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t

Ask = Callable[[str], Awaitable[Reply | None]]  # None: refused, and the screen said why
Take = Callable[[Answer], Awaitable[None]]
Action = Callable[[], Awaitable[None]]


def ask_dialog(on_ask: Ask, on_take: Take, on_help: Action) -> ui.dialog:
    """A closed dialog; `open()` it from the header's 问一问 button."""
    with ui.dialog() as dialog, tid(ui.card(), 'kiosk-ask-dialog').classes('p-6 gap-4 w-[860px] max-w-[95vw] text-lg'):
        ui.label(t('assistant.title')).classes('text-[1.4em] font-bold')
        ui.label(t('assistant.hint')).classes('kiosk-muted')
        with ui.row().classes('w-full items-center gap-3 no-wrap'):
            question = tid(ui.input(placeholder=t('assistant.placeholder')), 'kiosk-ask-question')
            question.props(f'outlined maxlength={MAX_QUESTION_CHARS} autocomplete=off').classes('flex-grow')
            asking = tid(ui.button(t('assistant.ask')), 'kiosk-ask-submit').props('unelevated size=lg')
        area = ui.column().classes('w-full gap-3')

        async def take(answer: Answer) -> None:
            dialog.close()
            await on_take(answer)

        async def call_help() -> None:
            dialog.close()
            await on_help()

        async def ask() -> None:
            reply = await on_ask(str(question.value or ''))
            area.clear()
            if reply is None:
                return
            with area:
                if not reply.answers:
                    with tid(ui.column(), 'kiosk-ask-handoff').classes('w-full gap-2 bg-amber-2 rounded-xl p-4'):
                        for line in handoff_lines(reply):
                            ui.label(line)
                        tid(ui.button(t('assistant.human'), on_click=call_help), 'kiosk-ask-help').props(
                            'unelevated icon=support_agent color=accent size=lg'
                        )
                for answer in reply.answers:
                    with tid(ui.card(), f'kiosk-ask-answer-{answer.code}').classes('w-full p-4 gap-2 no-shadow border'):
                        ui.label(pick(answer.name, answer.name_en)).classes('text-[1.2em] font-bold')
                        ui.label(reasons_text(answer)).classes('kiosk-muted text-[0.8em]')
                        tid(
                            ui.button(t('assistant.take'), on_click=lambda a=answer: take(a)),
                            f'kiosk-ask-take-{answer.code}',
                        ).props('unelevated icon=confirmation_number')

        asking.on_click(ask)
        question.on('keydown.enter', ask)
        with ui.row().classes('w-full justify-end'):
            tid(ui.button(t('assistant.close'), on_click=dialog.close), 'kiosk-ask-close').props('flat')
    return dialog
