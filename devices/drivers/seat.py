"""Smart seat: occupied or free, and since when; a long wait raises the hall's comfort prompt once.

The seat cannot know who sits on it, only for how long; `comfort_due` tells the device service's
sweep that this seat has been held past `comfort_after` (by default `thresholds.SEAT_COMFORT`, the
map's "long") and has not prompted yet for this occupancy. The service raises the prompt only while
tickets are actually waiting: on the manager's map (`ComfortPrompt`) and on the seat's own indicator
(an `indicator` command; the seat clears it itself when it is left).
"""

from __future__ import annotations

import datetime as dt
import logging

from app.events import ComfortPrompt, SeatChanged
from app.models.device import DeviceKind
from app.services.thresholds import held_long
from devices import protocol
from devices.driver import DeviceInfo, DeviceUnavailable, Driver, DriverContext

log = logging.getLogger(__name__)
INDICATOR = 'indicator'


class SeatDriver(Driver):
    kind = DeviceKind.SEAT

    def __init__(self, info: DeviceInfo, ctx: DriverContext) -> None:
        super().__init__(info, ctx)
        self.occupied_since: dt.datetime | None = None
        self._prompted = False

    async def on_occupancy(self, frame: protocol.Frame) -> None:
        data = frame.data
        assert isinstance(data, protocol.Occupancy)
        await self._set_occupied(data.occupied)

    async def _set_occupied(self, occupied: bool) -> None:
        if occupied == (self.occupied_since is not None):
            return
        now = self.ctx.clock()
        if occupied:
            self.occupied_since, self._prompted = now, False
            self.health.uses['occupied'] += 1
            self.health.usage.begin(now)
        else:
            self.occupied_since = None
            self.health.usage.end(now)
        self.record('seat', {'occupied': occupied})
        await self.publish(
            SeatChanged(
                hall_id=self.info.hall_id, device=self.info.payload, occupied=occupied, since=self.occupied_since
            )
        )

    def comfort_due(self) -> bool:
        return not self._prompted and held_long(self.occupied_since, self.ctx.clock(), self.ctx.tuning.comfort_after)

    async def prompt_comfort(self) -> None:
        """Publish the hall's long_wait_comfort prompt for this occupancy (once) and light the seat's indicator.

        The map's mark does not depend on the seat answering: an offline or silent seat is logged, not retried
        (the person may have left; the next occupancy prompts afresh)."""
        since = self.occupied_since
        if since is None or self._prompted:
            return
        self._prompted = True
        zh, en = self.ctx.prompt('long_wait_comfort')
        waited = int((self.ctx.clock() - since).total_seconds() // 60)
        self.record('comfort_prompt', {'waited_minutes': waited})
        await self.publish(
            ComfortPrompt(
                hall_id=self.info.hall_id,
                device=self.info.payload,
                occupied_since=since,
                waited_minutes=waited,
                text_zh=zh,
                text_en=en,
            )
        )
        try:
            await self.command(INDICATOR, {'on': True, 'text': zh, 'text_en': en, 'waited_minutes': waited})
        except DeviceUnavailable as error:
            log.info('seat %s did not show the comfort prompt: %s', self.code, error.code)

    def on_disconnect(self) -> None:
        """Without a connection the seat's state is unknown: stop counting it as occupied."""
        if self.occupied_since is not None:
            self.health.usage.end(self.ctx.clock())
            self.occupied_since = None
