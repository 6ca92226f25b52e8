"""NiceGUI routes: thin compositions of components that call app services.

Routes are registered by `register(started)` (called by the composition root on every start), not at
import time, so NiceGUI's test harness, which clears routes between tests, can register them again.
Each page function receives the root's `Startup[Parts]` as its first argument (pages/parts.py).
`LIGHT_PAGES` are plain HTML routes for pages thousands keep open (the call board, pages/display.py; a ticket's
live status, pages/track_status.py; a relative's, pages/proxy_status.py; a signed-in citizen's tickets,
pages/me_live.py);
`ROUTES` is every page, light or not.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path

from nicegui import app, ui

from components.call_board import SCRIPT_PATH
from components.me_live import PAGE_PATH as ME_LIVE_PATH
from components.me_live import SCRIPT_PATH as ME_SCRIPT_PATH
from components.proxy_cases import SCRIPT_PATH as CASES_SCRIPT_PATH
from components.track_status import SCRIPT_PATH as TRACK_SCRIPT_PATH
from pages import me_live, proxy_cases_live, proxy_live, track_live
from pages.admin import admin_page
from pages.arrival import arrive_page, entrance_page
from pages.book import book_page
from pages.citizen_login import citizen_login_page
from pages.city import city_hall_page, city_page
from pages.display import display_page, socket_routes, zone_display_page
from pages.enrol import enrol_page
from pages.guide import guide_page, guide_print_page, guide_service_page
from pages.home import home
from pages.kiosk import kiosk_page
from pages.login import login_page
from pages.manager import manager_page
from pages.me import me_page
from pages.parts import Started
from pages.proxy import proxy_page
from pages.proxy_status import proxy_status_page
from pages.ranking import ranking_page
from pages.rate import rate_page
from pages.report import report_page
from pages.review import review_page
from pages.track import track_page
from pages.track_status import track_status_page
from pages.verify import verify_page
from pages.window import window_page

LIGHT_PAGES: dict[str, Callable[..., Awaitable[object]]] = {
    '/display': display_page,
    '/display/{zone}': zone_display_page,
    '/track/{code}/status': track_status_page,
    ME_LIVE_PATH: me_live.me_live_page,
    '/proxy/{token}/status': proxy_status_page,
}
PAGES: dict[str, Callable[..., Awaitable[object]]] = {
    '/': home,
    '/login': login_page,
    '/me/login': citizen_login_page,
    '/enrol': enrol_page,
    '/manager': manager_page,
    '/city': city_page,
    '/city/{code}': city_hall_page,
    '/kiosk/{device}': kiosk_page,
    '/rate/{window}': rate_page,
    '/window/{window_id}': window_page,
    '/track/{code}': track_page,
    '/me': me_page,
    '/proxy/{token}': proxy_page,
    '/review': review_page,
    '/admin': admin_page,
    '/verify/{number}': verify_page,
    '/guide': guide_page,
    '/guide/{code}': guide_service_page,
    '/guide/{code}/print': guide_print_page,
    '/book/{service_code}': book_page,
    '/entrance': entrance_page,
    '/arrive/{code}': arrive_page,
    '/ranking': ranking_page,
    '/report/{month}': report_page,
}


ROUTES = {**PAGES, **LIGHT_PAGES}
SCRIPTS = Path(__file__).parent.parent / 'components'


def register(started: Started) -> None:
    for path, builder in PAGES.items():
        ui.page(path)(_bound(builder, started))
    for path, builder in LIGHT_PAGES.items():
        app.add_api_route(path, _bound(builder, started), methods=['GET'], include_in_schema=False)
    sockets = {
        **socket_routes(started),
        **track_live.socket_routes(started),
        **me_live.socket_routes(started),
        **proxy_live.socket_routes(started),
        **proxy_cases_live.socket_routes(started),
    }
    for path, handler in sockets.items():
        app.add_api_websocket_route(path, handler)
    app.add_static_file(local_file=SCRIPTS / 'call_board.js', url_path=SCRIPT_PATH)
    app.add_static_file(local_file=SCRIPTS / 'track_status.js', url_path=TRACK_SCRIPT_PATH)
    app.add_static_file(local_file=SCRIPTS / 'me_live.js', url_path=ME_SCRIPT_PATH)
    app.add_static_file(local_file=SCRIPTS / 'proxy_cases.js', url_path=CASES_SCRIPT_PATH)
    app.add_static_file(local_file=SCRIPTS / 'light_elder.js', url_path='/static/light_elder.js')
    app.add_static_file(local_file=SCRIPTS / 'light_socket.js', url_path='/static/light_socket.js')


def _bound(builder: Callable[..., Awaitable[object]], started: Started) -> Callable[..., Awaitable[object]]:
    """The page function with `started` given: FastAPI and NiceGUI see the rest of its signature, and resolve
    its annotations in the page's own module (a functools.partial would hide that module from FastAPI)."""

    @wraps(builder)
    async def page(*args: object, **kwargs: object) -> object:
        return await builder(started, *args, **kwargs)

    signature = inspect.signature(builder)
    page.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
    return page
