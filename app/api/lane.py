"""The API's own lane past the browser-page middleware: a JSON request skips what only pages need.

NiceGUI puts five layers around every request: its browser session (a signed cookie read and written on
every answer, and a user storage made for every caller without that cookie: every kiosk and phone), request
tracking, cache control and prefix redirects (each a `BaseHTTPMiddleware`: a task group and stream copies per
request), and gzip. The API needs none of them: callers are named by bearer tokens, answers are small JSON. Under
the lane's prefix a request goes from the outermost user layer straight to where `rejoin` sits (our security
headers, body limits and upload guard, then FastAPI's exception handling and router); every other path takes the
full way. Starlette's own error and body-limit layers stay outside both ways. A redirect the API answers (a
trailing slash) still gets the proxy's `X-Forwarded-Prefix`, as NiceGUI's layer would have added.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX = '/api/'


class Lane:
    """Where the lane starts (`LaneSwitch`, outermost) and where it rejoins the full way (`rejoin`)."""

    def __init__(self, prefix: str = API_PREFIX) -> None:
        self.prefix = prefix
        self.rejoin_at: ASGIApp | None = None

    def takes(self, scope: Scope) -> bool:
        return scope['type'] == 'http' and str(scope.get('path', '')).startswith(self.prefix)


def rejoin(app: ASGIApp, lane: Lane) -> ASGIApp:
    """A middleware factory that adds no layer: it marks the app below it as where the lane comes back in."""
    lane.rejoin_at = app
    return app


class LaneSwitch:
    """Sends a request under the lane's prefix to where the lane rejoins; anything else goes the full way."""

    def __init__(self, app: ASGIApp, lane: Lane) -> None:
        self.app = app
        self.lane = lane

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.lane.rejoin_at
        if target is None or not self.lane.takes(scope):
            await self.app(scope, receive, send)
            return
        prefix = _forwarded_prefix(scope)
        await target(scope, receive, send if not prefix else _prefixing_redirects(send, prefix))


def install(app: Starlette, lane: Lane) -> None:
    """Put the switch outermost among the user middleware when the stack is built (NiceGUI adds its own layers
    just before it serves, after our configuration ran). Idempotent: a second install replaces the first."""
    build: Callable[[], ASGIApp] = getattr(app.build_middleware_stack, '__wrapped__', app.build_middleware_stack)

    @functools.wraps(build)
    def build_with_lane() -> ASGIApp:
        app.user_middleware[:] = [m for m in app.user_middleware if m.cls is not LaneSwitch]
        app.user_middleware.insert(0, Middleware(LaneSwitch, lane=lane))
        return build()

    app.build_middleware_stack = build_with_lane  # type: ignore[method-assign]


def _forwarded_prefix(scope: Scope) -> str:
    for name, value in scope.get('headers') or ():
        if name == b'x-forwarded-prefix':
            return value.decode('latin-1')
    return ''


def _prefixing_redirects(send: Send, prefix: str) -> Send:
    async def send_with_prefix(message: Message) -> None:
        if message['type'] == 'http.response.start':
            headers = MutableHeaders(scope=message)
            location = headers.get('location')
            if location is not None and location.startswith('/'):
                headers['location'] = prefix + location
        await send(message)

    return send_with_prefix
