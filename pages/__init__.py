"""NiceGUI routes: thin compositions of components that call app services.

Routes are registered by `register()` (called by the composition root on every start), not at
import time, so NiceGUI's test harness, which clears routes between tests, can register them again.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from pages.home import home
from pages.login import login_page

ROUTES: dict[str, Callable[..., object]] = {
    '/': home,
    '/login': login_page,
}


def register() -> None:
    for path, builder in ROUTES.items():
        ui.page(path)(builder)
