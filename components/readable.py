"""Colours every page needs to stay readable (WCAG AA contrast, checked by axe-core in e2e/test_accessibility.py).

NiceGUI draws links in a light blue (#3b82f6: 3.7:1 on white); ours are a darker blue (7:1), still underlined.
"""

from __future__ import annotations

from nicegui import ui

PALETTE = {'primary': '#1f5fa8', 'secondary': '#3b7dd8', 'accent': '#c0392b', 'positive': '#2e7d32'}
READABLE_CSS = '.nicegui-link { color: #1d4ed8; }'
SCROLL_CSS = '.table-scroll .q-table__middle { overflow: visible; }'  # its wrapper scrolls instead


def readable() -> None:
    """The hall's colours and readable links, on the page being built."""
    ui.colors(**PALETTE)
    ui.add_css(READABLE_CSS)


def table_scroll(name: str) -> ui.element:
    """A wide table's scroller, reachable by keyboard and named (Quasar's own inner scroller is neither); draw
    the table inside it."""
    ui.add_css(SCROLL_CSS)
    scroller = ui.element('div').classes('table-scroll w-full overflow-x-auto').props('tabindex=0 role=region')
    scroller.props['aria-label'] = name
    return scroller
