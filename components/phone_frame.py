"""A narrow layout for pages citizens open on their phones (/track, /verify): works from 360 px up."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from nicegui import ui

from app.settings import StandIn
from components.demo_banner import demo_banner
from components.frame import footer
from components.readable import readable


@contextmanager
def phone_frame(title: str, *, hall_name: str, stand_ins: Collection[StandIn]) -> Iterator[None]:
    """`stand_ins`: the runtime's; while any is on the header carries 演示模式."""
    readable()
    ui.page_title(f'{title} · {hall_name}')
    with ui.header(elevated=True).classes('items-baseline gap-2 px-3 py-2 bg-primary no-wrap'):
        ui.label(hall_name).classes('text-base font-bold ellipsis')
        ui.label(title).classes('text-sm opacity-80 shrink-0')
        demo_banner(stand_ins, classes='shrink-0 self-center')
    with ui.column().classes('w-full max-w-xl mx-auto px-3 py-3 gap-3'):
        yield
        footer(stand_ins)
