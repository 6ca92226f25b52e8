"""The shared page layout: one header, one content column (see NiceGUI's modularization example)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from components.texts import t


@contextmanager
def frame(title: str, *, hall_name: str) -> Iterator[None]:
    ui.colors(primary='#1f5fa8', secondary='#3b7dd8', accent='#c0392b', positive='#2e7d32')
    ui.page_title(f'{title} · {hall_name}')
    with ui.header(elevated=True).classes('items-center justify-between px-6 py-2 bg-primary'):
        with ui.row().classes('items-baseline gap-3'):
            ui.label(hall_name).classes('text-xl font-bold')
            ui.label(title).classes('text-base opacity-80')
        with ui.row().classes('gap-4'):
            ui.link(t('nav.home'), '/').classes('text-white no-underline')
            ui.link(t('nav.api'), '/docs').classes('text-white no-underline')
    with ui.column().classes('w-full max-w-screen-2xl mx-auto p-4 gap-4'):
        yield
