"""The desk's 跨区通办 question: which hall of the city handles this ticket's case from now on, and why.

The dialog only asks; the case transfer service (app/services/case_transfer.py) decides and refuses.
"""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from app.services.case_transfer import REASON_MAX, HallChoice
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t


@dataclass(frozen=True)
class HallTransfer:
    hall_id: int
    reason: str


class HallTransferDialog:
    """Built once per page; `ask` lists the other halls and returns the choice (None if cancelled)."""

    def __init__(self) -> None:
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] max-w-full gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            ui.label(t('desk.case_hall.hint')).classes('text-sm text-grey-8')
            ui.label(t('desk.case_hall.hall')).classes('text-sm font-bold')
            # a radio list, not a dropdown: a city has a handful of halls, each readable and tappable at once
            self.hall = tid(ui.radio({}), 'case-hall-select').classes('w-full').props('dense')
            self.reason = tid(ui.input(t('desk.reason')), 'case-hall-reason').classes('w-full')
            self.reason.props(f'maxlength={REASON_MAX}')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=self._submit), 'case-hall-ok').props('unelevated')

    def _submit(self) -> None:
        if self.hall.value is None:  # no hall chosen yet: the dialog stays open and says so
            ui.notify(t('desk.case_hall.choose'), type='warning')
            return
        self.dialog.submit(HallTransfer(int(self.hall.value), self.reason.value or ''))

    async def ask(self, number: str, halls: list[HallChoice]) -> HallTransfer | None:
        self.title.set_text(t('desk.case_hall.title', number=number))
        self.hall.set_options({hall.id: f'{hall.name} ({hall.code})' for hall in halls}, value=None)
        self.reason.set_value('')
        return await self.dialog
