"""The service list: big buttons with the plain-language description, grouped by department.

In elder mode only the services of the hall's senior windows are offered first (fewer choices),
with one button to show the rest. Waiting counts are bound to the twin, so they move by push. Each choice shows
the number that picks it from a number pad (components/kiosk_keys.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from nicegui import ui

from app.services.kiosk import Catalogue, ServiceCard
from components import kiosk_texts as _texts  # noqa: F401 - registers the kiosk's texts
from components.kiosk_keys import heading, key_cap, numbered
from components.kiosk_texts import pick
from components.testids import tid
from components.texts import t
from twin.hall import QueueTwin

Choose = Callable[[str], Awaitable[None] | None]
Action = Callable[[], Awaitable[None] | None]


def _service_button(card: ServiceCard, queue: QueueTwin | None, on_choose: Choose, number: int) -> None:
    button = tid(ui.button(on_click=lambda: on_choose(card.code), color=None), f'kiosk-service-{card.code}')
    button.props('unelevated no-caps align=left').classes('kiosk-service w-full text-left p-4 rounded-xl')
    with numbered(button, number), ui.row().classes('w-full items-start gap-4 no-wrap'):
        key_cap(number)
        ui.label(card.prefix).classes('bg-primary text-white rounded-lg text-center font-bold shrink-0').style(
            'width: 1.9em; height: 1.9em; line-height: 1.9em'
        )
        with ui.column().classes('gap-1 flex-grow'):
            ui.label(pick(card.name, card.name_en)).classes('text-[1.15em] font-bold text-left')
            if card.description:
                ui.label(card.description).classes('kiosk-muted text-[0.8em] leading-snug text-left')
        if queue is not None:
            waiting = ui.label().classes('kiosk-muted text-[0.75em] shrink-0 whitespace-nowrap')
            waiting.bind_text_from(queue, 'waiting', backward=lambda n: t('kiosk.waiting', n=n))


def services_view(
    catalogue: Catalogue,
    queues: dict[str, QueueTwin],
    *,
    elder: bool,
    show_all: bool,
    on_choose: Choose,
    on_show_all: Action,
) -> None:
    heading(ui.label(t('kiosk.services.title'))).classes('text-[1.6em] font-bold')
    cards = {card.code: card for card in catalogue.cards}
    if elder and catalogue.elder_codes and not show_all:
        ui.label(t('kiosk.services.elder')).classes('text-[1.1em] font-bold kiosk-muted')
        with ui.column().classes('w-full gap-4'):
            for number, code in enumerate(catalogue.elder_codes, start=1):
                _service_button(cards[code], queues.get(code), on_choose, number)
        show = tid(ui.button(t('kiosk.services.all'), on_click=on_show_all), 'kiosk-services-all').props(
            'outline size=lg'
        )
        with numbered(show, len(catalogue.elder_codes) + 1):
            key_cap(len(catalogue.elder_codes) + 1).classes('ml-3')
        return
    columns = 'repeat(auto-fit, minmax(min(440px, 100%), 1fr))' if not elder else '1fr'
    number = 0
    for group in catalogue.groups:
        ui.label(pick(group.department, group.department_en)).classes('text-[1.1em] font-bold kiosk-muted mt-2')
        with ui.element('div').classes('w-full grid gap-3').style(f'grid-template-columns: {columns}'):
            for card in group.services:
                number += 1
                _service_button(card, queues.get(card.code), on_choose, number)
