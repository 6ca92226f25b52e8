"""A page asked for while the app is still starting waits at the door, not inside NiceGUI's page timer.

NiceGUI answers 500 when a page takes more than its response timeout (3 s) to build, and a page that awaits the
composition root's parts spends its start-up wait inside that time. Start-up takes seconds on a slow machine
(a hall with cameras loads the face engine before it serves), so the first pages after a restart failed. Here
the wait comes first and is bounded by `Startup.ready`; the page then builds on its own 3 s. The API and
NiceGUI's assets pass straight through: the API's dependency already waits for the parts without a timer.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from app.runtime import Startup

PASS_THROUGH = ('/api/', '/_nicegui')


class StartupGate:
    def __init__(self, app: ASGIApp, started: Startup[Any]) -> None:
        self.app = app
        self.started = started

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] == 'http' and not self.started.is_open and not str(scope['path']).startswith(PASS_THROUGH):
            with contextlib.suppress(RuntimeError, TimeoutError):  # a start-up that failed: the page itself says so
                await self.started.ready()
        await self.app(scope, receive, send)
