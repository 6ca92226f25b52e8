"""The city view's one shared snapshot: every hall's figures, read once for all open /city pages.

The halls' own events travel on their own streams (app/bus_redis.py `hall_stream`), so the city reads the
shared database instead: one set of grouped queries every `every` seconds, and only while at least one /city
page listens to `changed`. A page opening between two rounds gets the last snapshot when it is fresh enough.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from nicegui import Event as UiEvent

from app import tasks
from app.services.city_overview import CityFigures, CityOverviewService, require_city
from app.services.principal import Principal

log = logging.getLogger(__name__)

CITY_EVERY = 5.0  # seconds between two readings while someone watches


class CityBoard:
    def __init__(self, overview: CityOverviewService, *, every: float = CITY_EVERY) -> None:
        self.overview = overview
        self.every = every
        self.latest: CityFigures | None = None
        self.changed: UiEvent[CityFigures] = UiEvent()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name='city-board')

    async def stop(self) -> None:
        await tasks.stop(self._task)
        self._task = None

    async def current(self, caller: Principal) -> CityFigures:
        """The figures for a page opening: refused to anyone but a city manager; read now when the last is stale."""
        require_city(caller)
        latest = self.latest
        if latest is None or self.overview.clock() - latest.at > dt.timedelta(seconds=self.every):
            latest = await self._refresh()
        return latest

    @property
    def watched(self) -> bool:
        return bool(self.changed.callbacks)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            if not self.watched:
                continue
            try:
                await self._refresh()
            except Exception:  # a failed round is logged; the next one tries again
                log.exception('city figures could not be read')

    async def _refresh(self) -> CityFigures:
        figures = await self.overview.figures(Principal.system('city_board'))
        before, self.latest = self.latest, figures
        if before is None or before.halls != figures.halls:
            self.changed.emit(figures)
        return figures
