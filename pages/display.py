"""`/display` and `/display/{zone}`: the call board for everyone waiting (no login, nothing personal).

Light routes, not NiceGUI pages (components/call_board.py says why): a document drawn from the twin, and
`/live/board[/{zone}]`, the websocket that feeds it the board's shared texts (twin/board_feed.py,
app/fanout.py). The socket is a public edge behind the public sockets' door (pages/public_socket.py: origin,
`PER_ADDRESS` per address, `TOTAL` per process); an unknown zone is refused with 404 before a socket opens. A client
that sends anything is closed (app/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi.responses import HTMLResponse, Response
from starlette.websockets import WebSocket

from app.fanout import SocketLimits
from app.services.errors import NotFound
from components.call_board import SOCKET_PATH, board_document
from pages.parts import Started
from pages.public_socket import PublicSocketDoor, refuse

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


class BoardSockets:
    """`/live/board` and `/live/board/{zone}`: who may listen, then the board's channel serves the socket."""

    def __init__(self, started: Started, limits: SocketLimits | None = None) -> None:
        self.started = started
        self.door = PublicSocketDoor(limits or SocketLimits(per_address=PER_ADDRESS, total=TOTAL))

    async def hall(self, websocket: WebSocket) -> None:
        await self.serve(websocket, None)

    async def zone(self, websocket: WebSocket, zone: str) -> None:
        await self.serve(websocket, zone)

    async def serve(self, websocket: WebSocket, zone: str | None) -> None:
        address = await self.door.enter(websocket)
        if address is None:
            return
        try:
            parts = await self.started.ready()
            try:
                board = await parts.boards.board(zone)
            except NotFound:
                await refuse(websocket, 404, 'no such zone')
                return
            await websocket.accept()
            await board.channel.serve(websocket)
        finally:
            self.door.leave(address)


def socket_routes(sockets: BoardSockets) -> dict[str, Callable[..., Awaitable[None]]]:
    """The socket routes with their handlers (registered by `pages.register`)."""
    return {SOCKET_PATH: sockets.hall, f'{SOCKET_PATH}/{{zone}}': sockets.zone}
