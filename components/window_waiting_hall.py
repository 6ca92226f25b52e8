"""The desk's 跨区通办 of a waiting ticket: the clerk types the number of any ticket waiting in this hall and sends it.

The card only reads the number; the desk opens the same hall-and-service dialog as for the ticket being served, and
the handoff service (app/services/ticket_handoff.py) decides whether this ticket may go.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.queue import NUMBER_MAX
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.testids import tid
from components.texts import t

SendAction = Callable[[str], Awaitable[bool]]


class WaitingToHallCard:
    """Built once per page, like the green card, so a re-render never wipes the number being typed."""

    def __init__(self, on_send: SendAction) -> None:
        self.on_send = on_send
        with tid(ui.card(), 'desk-waiting-hall').classes('w-full p-4 gap-2'):
            ui.label(t('desk.waiting_hall.title')).classes('font-bold')
            ui.label(t('desk.waiting_hall.hint')).classes('text-xs text-grey-8')
            self.number = tid(ui.input(t('desk.number')), 'waiting-hall-number').props(f'dense maxlength={NUMBER_MAX}')
            self.number.classes('w-full').on('keydown.enter', self._send)
            button = tid(ui.button(t('desk.ticket_hall'), on_click=self._send), 'waiting-hall-send')
            button.props('outline icon=alt_route').classes('w-full')

    async def _send(self) -> None:
        if await self.on_send(self.number.value or ''):
            self.number.set_value('')
