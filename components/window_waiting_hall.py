"""The desk's 跨区通办 of a waiting ticket: the clerk picks it from the list of those they may send or types it.

The list is the handoff service's answer (app/services/ticket_handoff.py `waiting_to_send`), so the service decides
which tickets are on it; the card only narrows what it shows by what is typed. Picking a ticket, or pressing the button
with a typed number, opens the same hall-and-service dialog as for the ticket being served, and the same service call
decides whether it may go. The desk asks for the list again on each ticket event (the live queue answers, no query)
and the card redraws only when what it shows changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.errors import DomainError
from app.services.queue import NUMBER_MAX
from app.services.ticket_handoff import WaitingToSend
from components import window_texts as _texts  # noqa: F401 - registers the desk's texts
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import error_text, t

SendAction = Callable[[str], Awaitable[bool]]
Listing = Callable[[], Awaitable[list[WaitingToSend]]]
SHOWN = 8  # rows at most: a full hall is found by typing, not by scrolling a long list in the side column


class WaitingToHallCard:
    """Built once per page, like the green card, so a re-render never wipes the number being typed."""

    def __init__(self, on_send: SendAction, listing: Listing) -> None:
        self.on_send = on_send
        self.listing = listing
        self.tickets: list[WaitingToSend] = []
        self.error = ''
        self._drawn: tuple[object, ...] | None = None
        self._reading = asyncio.Lock()
        with tid(ui.card(), 'desk-waiting-hall').classes('w-full p-4 gap-2') as self.card:
            ui.label(t('desk.waiting_hall.title')).classes('font-bold')
            ui.label(t('desk.waiting_hall.hint')).classes('text-xs text-grey-8')
            self.number = tid(ui.input(t('desk.waiting_hall.find')), 'waiting-hall-number')
            self.number.props(f'dense maxlength={NUMBER_MAX}').classes('w-full')
            self.number.on('keydown.enter', self._send).on('focus', self.refresh).on_value_change(self._draw)
            self.rows = tid(ui.element('ul'), 'waiting-hall-list').classes('w-full flex flex-col list-none m-0 p-0')
            self.rows.props['aria-label'] = t('desk.waiting_hall.list')
            self.note = tid(ui.label(), 'waiting-hall-note').classes('text-xs text-grey-8')
            button = tid(ui.button(t('desk.ticket_hall'), on_click=self._send), 'waiting-hall-send')
            button.props('outline icon=alt_route').classes('w-full')

    async def refresh(self) -> None:
        """Ask for the list again; a refusal (the caller may send nothing) is shown in its place."""
        async with self._reading:  # one at a time, so an earlier answer never overwrites a later one
            try:
                self.tickets, self.error = await self.listing(), ''
            except DomainError as error:
                self.tickets, self.error = [], error_text(error)
            if not self.rows.is_deleted:  # the page may have ended while the list was read
                self._draw()

    def _draw(self) -> None:
        needle = (self.number.value or '').strip().upper()
        matching = [ticket for ticket in self.tickets if needle in ticket.number]
        shown = tuple(matching[:SHOWN])
        note = self._note(needle, len(matching) - len(shown))
        if (shown, note) == self._drawn:
            return
        self._drawn = (shown, note)
        self.rows.clear()
        with self.rows:
            for ticket in shown:
                self._row(ticket)
        self.note.set_text(note)
        self.note.set_visibility(bool(note))

    def _note(self, needle: str, more: int) -> str:
        if self.error:
            return self.error
        if not self.tickets:
            return t('desk.waiting_hall.none')
        if more:
            return t('desk.waiting_hall.more', n=more)
        if needle and not any(needle in ticket.number for ticket in self.tickets):
            return t('desk.waiting_hall.no_match', needle=needle)
        return ''

    def _row(self, ticket: WaitingToSend) -> None:
        service = pick(ticket.service_name, ticket.service_name_en)
        waited = t('desk.waiting_hall.waited', minutes=ticket.waited_minutes)
        with ui.element('li').classes('w-full'):
            row = tid(ui.button(on_click=lambda: self._pick(ticket.number)), f'waiting-hall-pick-{ticket.number}')
            row.props('flat dense no-caps align=left color=grey-10').classes('w-full')
            row.props['aria-label'] = t(
                'desk.waiting_hall.item', number=ticket.number, service=service, minutes=ticket.waited_minutes
            )
            with row, ui.row().classes('w-full items-center no-wrap gap-2'):
                ui.label(ticket.number).classes('font-bold font-mono')
                ui.label(service).classes('text-sm ellipsis flex-grow text-left min-w-0')
                ui.label(waited).classes('text-xs text-grey-8 whitespace-nowrap')

    async def _pick(self, number: str) -> None:
        with self.card:  # the row picked is drawn away as its ticket goes: the answer is shown from the card
            if await self.on_send(number):
                self.number.set_value('')

    async def _send(self) -> None:
        if await self.on_send(self.number.value or ''):
            self.number.set_value('')
