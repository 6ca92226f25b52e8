"""NiceGUI routes: thin compositions of components that call app services.

Routes are registered by `register()` (called by the composition root on every start), not at
import time, so NiceGUI's test harness, which clears routes between tests, can register them again.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from pages.admin import admin_page
from pages.display import display_page, zone_display_page
from pages.enrol import enrol_page
from pages.home import home
from pages.kiosk import kiosk_page
from pages.login import login_page
from pages.manager import manager_page
from pages.proxy import proxy_page
from pages.review import review_page
from pages.track import track_page
from pages.verify import verify_page
from pages.window import window_page

ROUTES: dict[str, Callable[..., object]] = {
    '/': home,
    '/login': login_page,
    '/enrol': enrol_page,
    '/manager': manager_page,
    '/kiosk/{device}': kiosk_page,
    '/window/{window_id}': window_page,
    '/display': display_page,
    '/display/{zone}': zone_display_page,
    '/track/{code}': track_page,
    '/proxy/{token}': proxy_page,
    '/review': review_page,
    '/admin': admin_page,
    '/verify/{number}': verify_page,
}


def register() -> None:
    for path, builder in ROUTES.items():
        ui.page(path)(builder)
