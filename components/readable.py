"""Colours every page needs to stay readable (WCAG AA contrast, checked by axe-core in e2e/test_accessibility.py).

NiceGUI draws links in a light blue (#3b82f6: 3.7:1 on white); ours are a darker blue (7:1), still underlined.
"""

from __future__ import annotations

from nicegui import ui

PALETTE = {'primary': '#1f5fa8', 'secondary': '#3b7dd8', 'accent': '#c0392b', 'positive': '#2e7d32'}
READABLE_CSS = '.nicegui-link { color: #1d4ed8; }'


def readable() -> None:
    """The hall's colours and readable links, on the page being built."""
    ui.colors(**PALETTE)
    ui.add_css(READABLE_CSS)
