"""A narrow layout for pages citizens open on their phones (/track, /verify): works from 360 px up.

Every page in it offers 长辈模式 (and, in that mode, 朗读 of the page's main part): components/elder_mode.py.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from nicegui import ui

from app.settings import StandIn
from components.demo_banner import demo_banner
from components.elder_mode import elder_toggle, read_aloud
from components.frame import footer
from components.readable import readable


@contextmanager
def phone_frame(title: str, *, hall_name: str, stand_ins: Collection[StandIn]) -> Iterator[None]:
    """`stand_ins`: the runtime's; while any is on the header carries 演示模式."""
    readable()
    ui.page_title(f'{title} · {hall_name}')
    with ui.header(elevated=True).classes('elder-scope items-baseline gap-2 px-3 py-2 bg-primary no-wrap'):
        ui.label(hall_name).classes('text-base font-bold ellipsis')
        ui.label(title).classes('text-sm opacity-80 shrink-0')
        demo_banner(stand_ins, classes='shrink-0 self-center')
    with ui.row().classes('elder-scope w-full max-w-xl mx-auto px-3 pt-3 justify-end gap-2 text-primary'):
        read_aloud('.phone-main')
        elder_toggle()
    with ui.column().classes('phone-main elder-scope w-full max-w-xl mx-auto px-3 py-3 gap-3'):
        yield
    with ui.column().classes('elder-scope w-full max-w-xl mx-auto px-3 pb-3'):
        footer(stand_ins)
