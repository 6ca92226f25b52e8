"""The shared page layout: one header, one content column, a footer line (NiceGUI's modularization example)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager

from nicegui import ui

from app.settings import StandIn
from app.version import version
from components.demo_banner import demo_banner, stand_in_words
from components.readable import readable
from components.testids import tid
from components.texts import register, t

register(
    {
        'frame.footer': ('HallTwin {version} 版', 'HallTwin version {version}'),
        'frame.nav': ('站点导航', 'Site navigation'),
    }
)


@contextmanager
def frame(title: str, *, hall_name: str, stand_ins: Collection[StandIn]) -> Iterator[None]:
    """`stand_ins`: the runtime's; while any is on the header carries 演示模式 and the footer says what it is."""
    readable()
    ui.page_title(f'{title} · {hall_name}')
    with ui.header(elevated=True).classes('items-center justify-between px-6 py-2 bg-primary'):
        with ui.row().classes('items-baseline gap-3'):
            ui.label(hall_name).classes('text-xl font-bold')
            ui.label(title).classes('text-base opacity-80')
            demo_banner(stand_ins)
        nav = ui.element('nav').classes('flex gap-4')
        nav.props['aria-label'] = t('frame.nav')
        with nav:
            ui.link(t('nav.home'), '/').classes('text-white no-underline')
            ui.link(t('nav.api'), '/docs').classes('text-white no-underline')
    with ui.column().classes('w-full max-w-screen-2xl mx-auto p-4 gap-4'):
        yield
        footer(stand_ins)


def footer(stand_ins: Collection[StandIn]) -> None:
    """The version this hall runs (what an operator quotes when reporting a problem), and any stand-ins."""
    parts = [t('frame.footer', version=version())]
    if stand_ins:
        parts.append(f'{t("demo.banner")}: {stand_in_words(stand_ins)}')
    tid(ui.label(' · '.join(parts)), 'page-footer').classes('w-full text-center text-xs text-gray-500 pt-6')
