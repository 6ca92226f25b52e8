"""`/city`: every hall of the city live, for city managers; `/city/{code}`: one hall's floor map, live, read-only.

City managers only (a hall's manager or admin gets 403: they see their own hall on /manager). The cards follow
the process's one CityBoard (twin/city.py), which reads every hall's figures once for all open /city pages.
The drill-down follows the hall's watch (twin/hall_watch.py): a replica of that hall's twin fed from its own event
stream, shared by every drill-down page on that hall, redrawn at most five times a second.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from nicegui import ui

from app.clock import utcnow
from app.models.people import Role
from app.services.city_overview import CityFigures
from app.services.errors import DomainError
from components.city_board import city_cards, hall_name
from components.floor_map import CSS as MAP_CSS
from components.floor_map import legend
from components.floor_plan import svg, visuals
from components.frame import frame
from components.testids import tid
from components.texts import error_text, t
from pages.parts import Started


async def city_page(started: Started, request: Request) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.CITY)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    board = parts.city
    tz = rt.settings.tz
    first = await board.current(session.principal)

    with frame(t('city.title'), hall_name=t('city.name'), stand_ins=rt.stand_ins):

        @ui.refreshable
        def cards(city: CityFigures) -> None:
            city_cards(city, tz_time=city.at.astimezone(tz).strftime('%H:%M:%S'))

        with tid(ui.column(), 'city-board').classes('w-full gap-3'):
            cards(first)

        def redraw(city: CityFigures) -> None:
            cards.refresh(city)  # a named argument: NiceGUI hands the event's figures only to a callback that takes one

        board.changed.subscribe(redraw)  # inside the page: it ends with the client
    return None


async def city_hall_page(started: Started, request: Request, code: str) -> Response | None:
    parts = await started.ready()
    session = await parts.guard.require(request, Role.CITY)
    if isinstance(session, Response):
        return session
    rt = parts.runtime
    try:
        hall_id = await parts.city.overview.find_hall(session.principal, code)
        city = await parts.city.current(session.principal)
    except DomainError as refused:
        with frame(t('city.title'), hall_name=t('city.name'), stand_ins=rt.stand_ins):
            tid(ui.label(error_text(refused)), 'city-error').classes('text-negative')
            ui.link(t('city.back'), '/city')
        return None
    watches = parts.city_halls
    watch = await watches.acquire(hall_id, code)

    async def gone() -> None:
        await watches.release(watch)

    ui.context.client.on_delete(gone)
    figures = city.hall(code)
    title = hall_name(figures) if figures is not None else code
    name = f'{title} · {t("manager.floor_map")}'

    def plan() -> str:
        twin = watch.twin
        return svg(twin, visuals(twin, utcnow()), entrance=t('manager.entrance'), queue=t('manager.queue'), name=name)

    ui.add_css(MAP_CSS)
    with frame(t('manager.floor_map'), hall_name=title, stand_ins=rt.stand_ins):
        with ui.row().classes('w-full items-center justify-between gap-2'):
            tid(ui.link(t('city.back'), '/city'), 'city-back')
            ui.label(t('city.live')).classes('text-xs text-grey-8')
        with tid(ui.card(), 'city-map').classes('w-full p-2 gap-1'):
            drawn = tid(ui.html(plan(), sanitize=False), 'floor-map').classes('fm-wrap w-full')
            legend()

    def redraw() -> None:
        drawn.set_content(plan())

    watch.redraw.subscribe(redraw)  # inside the page: it ends with the client
    return None
