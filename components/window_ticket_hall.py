"""The desk's 跨区通办 of a ticket: which hall and which of its services, and why.

The dialog only asks; the handoff service (app/services/ticket_handoff.py) decides and refuses. It lists only
services some window of the chosen hall serves, so the usual choice is a valid one.
"""

from __future__ import annotations

from dataclasses import dataclass

from nicegui import ui

from app.services.reasons import REASON_MAX
from app.services.ticket_handoff import Destination
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t


@dataclass(frozen=True)
class TicketToHall:
    hall_code: str
    service_code: str
    reason: str


class TicketHallDialog:
    """Built once per page; `ask` lists the other halls and their services and returns the choice (None if
    cancelled)."""

    def __init__(self) -> None:
        self.destinations: dict[str, Destination] = {}
        with ui.dialog() as self.dialog, ui.card().classes('w-[32rem] max-w-full gap-3 p-6'):
            self.title = ui.label().classes('text-lg font-bold')
            ui.label(t('desk.ticket_hall.hint')).classes('text-sm text-grey-8')
            ui.label(t('desk.case_hall.hall')).classes('text-sm font-bold')
            self.hall = tid(ui.radio({}, on_change=self._hall_chosen), 'ticket-hall-select').classes('w-full')
            self.hall.props('dense')
            self.service = tid(ui.select({}, label=t('desk.ticket_hall.service')), 'ticket-hall-service')
            self.service.classes('w-full')
            self.reason = tid(ui.input(t('desk.reason')), 'ticket-hall-reason').classes('w-full')
            self.reason.props(f'maxlength={REASON_MAX}')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button(t('desk.cancel'), on_click=lambda: self.dialog.submit(None)).props('flat')
                tid(ui.button(t('desk.ok'), on_click=self._submit), 'ticket-hall-ok').props('unelevated')

    def _hall_chosen(self) -> None:
        chosen = self.destinations.get(self.hall.value or '')
        self.service.set_options(dict(chosen.services) if chosen else {}, value=None)

    def _submit(self) -> None:
        if self.hall.value is None or self.service.value is None:  # the dialog stays open and says what is missing
            ui.notify(t('desk.ticket_hall.choose'), type='warning')
            return
        self.dialog.submit(TicketToHall(str(self.hall.value), str(self.service.value), self.reason.value or ''))

    async def ask(self, number: str, destinations: list[Destination]) -> TicketToHall | None:
        self.destinations = {hall.code: hall for hall in destinations}
        self.title.set_text(t('desk.ticket_hall.title', number=number))
        self.hall.set_options({hall.code: f'{hall.name} ({hall.code})' for hall in destinations}, value=None)
        self.service.set_options({}, value=None)
        self.reason.set_value('')
        return await self.dialog
