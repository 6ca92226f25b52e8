"""Live hall board: a card per window and a row per queue, bound to the twin (pushed, never polled)."""

from __future__ import annotations

from nicegui import ui

from app.events import Event, WindowChanged
from components.testids import tid
from components.texts import t
from twin.hall import HallTwin, QueueTwin, WindowTwin

STATE_CLASSES = {
    'open': 'bg-green-1 text-green-10',
    'paused': 'bg-amber-1 text-amber-10',
    'closed': 'bg-grey-3 text-grey-8',
}


def _state_label(state: str) -> str:
    return t(f'window.state.{state}')


def _minutes(value: int | None) -> str:
    if value is None:
        return t('queue.no_window')
    return t('queue.now') if value == 0 else t('minutes', n=value)


class WindowCard:
    """One window: number, name, state, and the ticket being served."""

    def __init__(self, window: WindowTwin) -> None:
        self.window = window
        with tid(ui.card(), f'window-{window.number}').classes('w-44 p-3 gap-1') as self.card:
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                ui.label(f'{window.number}号').classes('text-lg font-bold')
                self.badge = (
                    ui.label().classes('text-xs px-2 rounded').bind_text_from(window, 'state', backward=_state_label)
                )
            ui.label(window.name).classes('text-xs text-grey-8 ellipsis w-full')
            current = tid(ui.label(), f'window-{window.number}-current')
            current.classes('text-3xl font-mono font-bold text-primary')
            current.bind_text_from(window, 'current_number', backward=lambda n: n or '—')
        self.restyle()

    def restyle(self) -> None:
        self.badge.classes(remove=' '.join(STATE_CLASSES.values()), add=STATE_CLASSES.get(self.window.state, ''))
        self.card.classes(remove='bg-grey-2', add='bg-grey-2' if self.window.state == 'closed' else '')


def queue_rows(queues: list[QueueTwin]) -> None:
    with ui.grid(columns='minmax(10rem,2fr) 1fr 1fr').classes('w-full gap-x-4 gap-y-1 items-center'):
        for key in ('queue.service', 'queue.waiting', 'queue.eta'):
            ui.label(t(key)).classes('text-xs text-grey-7 font-bold')
        for queue in queues:
            with ui.row().classes('items-center gap-2 no-wrap'):
                ui.label(queue.prefix).classes('w-6 h-6 rounded bg-primary text-white text-center text-sm')
                ui.label(queue.name).classes('text-sm')
            waiting = tid(ui.label(), f'queue-{queue.code}-waiting').classes('text-lg font-bold')
            waiting.bind_text_from(queue, 'waiting', backward=str)
            ui.label().classes('text-sm').bind_text_from(queue, 'eta_minutes', backward=_minutes)


def hall_board(twin: HallTwin) -> None:
    """Windows on the left, queues on the right; window colours follow the twin's `changed` event."""
    with ui.row().classes('w-full gap-6 items-start no-wrap'):
        with ui.column().classes('flex-grow gap-2'):
            ui.label(t('home.windows')).classes('text-lg font-bold')
            with ui.row().classes('gap-3'):
                cards = {wid: WindowCard(w) for wid, w in sorted(twin.windows.items(), key=lambda i: i[1].number)}
        with ui.card().classes('w-[28rem] shrink-0'):
            ui.label(t('home.queues')).classes('text-lg font-bold')
            queue_rows(sorted(twin.queues.values(), key=lambda q: q.prefix))

    def on_change(event: Event) -> None:
        if isinstance(event, WindowChanged) and event.payload.id in cards:
            cards[event.payload.id].restyle()

    twin.changed.subscribe(on_change)
