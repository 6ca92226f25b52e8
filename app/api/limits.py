"""Refuse oversized request bodies before they reach a route, whether declared or streamed.

Every path is covered: our JSON routes, NiceGUI's pages and upload routes, the socket.io polling
transport. A route may have its own limit (an upload element's file size, say): the caller passes
`limit_for`, a function from the path to that limit or None for the default, so this module needs
to know nothing about NiceGUI.

A declared Content-Length over the limit is refused at once, before one byte of the body is read
(the server discards whatever the client still sends). A streamed (chunked) body is read into
memory up to the limit first and replayed to the app; one byte more and it is refused (a
Transfer-Encoding header wins over a Content-Length, as in HTTP: the bytes are counted). Limits are
small, so buffering costs little, and the route never sees a half-read body (FastAPI would turn an
error raised mid-body into a generic 400). A request with neither header has no body and passes
untouched.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

RouteLimit = Callable[[str], int | None]


def no_route_limits(path: str) -> int | None:
    """Every path gets the default limit."""
    return None


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, limit_for: RouteLimit = no_route_limits) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http':
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get('headers') or [])
        declared = headers.get(b'content-length')
        if declared is None and b'transfer-encoding' not in headers:
            await self.app(scope, receive, send)
            return
        own = self.limit_for(str(scope.get('path', '')))
        limit = self.max_bytes if own is None else own
        if b'transfer-encoding' not in headers and declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await self._refuse(send, limit)
                return
            await self.app(scope, receive, send)
            return
        messages = await self._buffer(receive, limit)
        if messages is None:
            await self._refuse(send, limit)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _buffer(receive: Receive, limit: int) -> list[Message] | None:
        """The whole streamed body as ASGI messages, or None once it exceeds the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message['type'] != 'http.request':
                return messages
            size += len(message.get('body', b''))
            if size > limit:
                return None
            if not message.get('more_body', False):
                return messages

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = json.dumps(
            {'code': 'body_too_large', 'message': f'请求体超过 {limit} 字节 / request body over {limit} bytes'},
            ensure_ascii=False,
        ).encode()
        headers = [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]
        await send({'type': 'http.response.start', 'status': 413, 'headers': headers})
        await send({'type': 'http.response.body', 'body': body})
