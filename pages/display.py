"""`/display` and `/display/{zone}`: the call board for everyone waiting (no login, nothing personal)."""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response
from nicegui import ui

from app.services.call_board import board_scope
from app.services.errors import NotFound
from components.call_board import CallBoard
from components.texts import t
from pages.parts import Started

NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>404</title>
<body style="font-family:sans-serif;padding:3rem"><h1>没有这个区域 / No such zone</h1>
<p><a href="/display">全部叫号 / all calls</a></p></body></html>"""


async def display_page(started: Started) -> Response | None:
    return await _board(started, None)


async def zone_display_page(started: Started, zone: str) -> Response | None:
    return await _board(started, zone)


async def _board(started: Started, zone: str | None) -> Response | None:
    parts = await started.ready()
    rt = parts.runtime
    try:
        scope = await board_scope(rt.db, rt.hall.id or 0, zone)
    except NotFound:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    ui.page_title(f'{t("board.title")} · {rt.hall.name}')
    ui.query('.nicegui-content').classes('p-0')
    board = CallBoard(parts.twin, scope, hall_name=rt.hall.name, stand_ins=rt.stand_ins)
    parts.device_feed.calls.subscribe(board.on_call)
    return None
