"""`/display` and `/display/{zone}`: the call board for everyone waiting (no login, nothing personal).

Light routes, not NiceGUI pages (components/call_board.py says why): a document drawn from the twin, and
`/live/board[/{zone}]`, the websocket that feeds it the board's shared texts (twin/board_feed.py,
app/fanout.py). The socket is a public edge behind the public sockets' door (pages/public_socket.py: origin,
`PER_ADDRESS` per address, `TOTAL` per process); an unknown zone is refused with 404 before a socket opens. A client
that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial

from fastapi.responses import HTMLResponse, Response
from starlette.websockets import WebSocket

from app.services.errors import NotFound
from components.call_board import SOCKET_PATH, board_document
from pages.parts import Parts, Started
from pages.public_socket import PublicSocketDoor, Refused

PER_ADDRESS = 32  # a hall's screens behind one address, with room for their reconnects
TOTAL = 10_000  # sockets one process serves (about 1.5 GB at the 0.15 MB a board measured by bench/public_pages.py)

NOT_FOUND_PAGE = """<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>404</title>
<body style="font-family:sans-serif;padding:3rem"><h1>没有这个区域 / No such zone</h1>
<p><a href="/display">全部叫号 / all calls</a></p></body></html>"""


async def display_page(started: Started) -> Response:
    return await _board(started, None)


async def zone_display_page(started: Started, zone: str) -> Response:
    return await _board(started, zone)


async def _board(started: Started, zone: str | None) -> Response:
    parts = await started.ready()
    rt = parts.runtime
    try:
        board = await parts.boards.board(zone)
    except NotFound:
        return HTMLResponse(NOT_FOUND_PAGE, status_code=404)
    document = board_document(
        board.scope, hall_name=rt.hall.name, queues=parts.twin.queues.values(), stand_ins=rt.stand_ins
    )
    return HTMLResponse(document, headers={'cache-control': 'no-store'})


def socket_routes(started: Started) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket routes with their handlers behind one door (registered by `pages.register`)."""
    door = PublicSocketDoor(started, per_address=PER_ADDRESS, total=TOTAL)

    async def hall(websocket: WebSocket) -> None:
        await door.admit(websocket, partial(_listen, websocket, None))

    async def zone(websocket: WebSocket, zone: str) -> None:
        await door.admit(websocket, partial(_listen, websocket, zone))

    return {SOCKET_PATH: hall, f'{SOCKET_PATH}/{{zone}}': zone}


async def _listen(websocket: WebSocket, zone: str | None, parts: Parts, _address: str) -> None:
    """Anyone may listen to a board that exists: its channel serves the socket."""
    try:
        board = await parts.boards.board(zone)
    except NotFound:
        raise Refused(404, 'no such zone') from None
    await websocket.accept()
    await board.channel.serve(websocket)
