"""The current service's running time, counted in the browser (a Vue timer), not by a server timer."""

from __future__ import annotations

import datetime as dt

from nicegui import ui

from app.clock import utcnow
from app.services.window_desk import since_epoch_ms


class ServiceTimer(ui.element, component='window_timer.js'):
    def __init__(self, since: dt.datetime | None) -> None:
        super().__init__()
        self.set_since(since)

    def set_since(self, since: dt.datetime | None) -> None:
        self._props['since'] = since_epoch_ms(since)
        self._props['server-now'] = since_epoch_ms(utcnow())
        self.update()
