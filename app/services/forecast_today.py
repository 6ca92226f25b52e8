"""Today's forecast arrivals per hour for the managers' arrivals chart, read once per hall day.

Every manager page shows the same curve and the model behind it is fitted once a day, so one read per
hall day serves them all; a failed read is not kept (the next page tries again). The composition root
owns the one instance of a process.
"""

from __future__ import annotations

import datetime as dt
import logging

from app.services.forecast import ForecastService

log = logging.getLogger(__name__)


class TodayForecast:
    def __init__(self, service: ForecastService) -> None:
        self.service = service
        self._day: dt.date | None = None
        self._hourly: dict[int, float] = {}

    async def hourly(self) -> dict[int, float] | None:
        """Forecast arrivals by hour of today, or None while the forecast cannot be read."""
        day = self.service.today
        if self._day != day:
            try:
                points = await self.service.hourly()
            except Exception:
                log.exception('forecast unavailable for the arrivals chart')
                return None
            self._day, self._hourly = day, {point.hour: point.forecast for point in points}
        return self._hourly
