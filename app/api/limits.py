"""Refuse oversized request bodies before they reach a route, whether declared or streamed.

A declared Content-Length over the limit is refused at once. A streamed (chunked) body is read
into memory up to the limit first and replayed to the app; one byte more and it is refused. The
limit is small (64 KiB by default), so buffering costs nothing, and the route never sees a
half-read body (FastAPI would turn an error raised mid-body into a generic 400).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Applies to our own JSON routes; NiceGUI's uploads keep their own per-element limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, prefixes: tuple[str, ...] = ('/api/', '/auth/')) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope['type'] != 'http'
            or scope.get('method') in {'GET', 'HEAD', 'OPTIONS'}
            or not str(scope.get('path', '')).startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get('headers') or []).get(b'content-length')
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await self._refuse(send)
                return
            await self.app(scope, receive, send)
            return
        messages = await self._buffer(receive)
        if messages is None:
            await self._refuse(send)
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _buffer(self, receive: Receive) -> list[Message] | None:
        """The whole streamed body as ASGI messages, or None once it exceeds the limit."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message['type'] != 'http.request':
                return messages
            size += len(message.get('body', b''))
            if size > self.max_bytes:
                return None
            if not message.get('more_body', False):
                return messages

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {'code': 'body_too_large', 'message': f'请求体超过 {self.max_bytes} 字节 / request body too large'},
            ensure_ascii=False,
        ).encode()
        headers = [(b'content-type', b'application/json'), (b'content-length', str(len(body)).encode())]
        await send({'type': 'http.response.start', 'status': 413, 'headers': headers})
        await send({'type': 'http.response.body', 'body': body})
