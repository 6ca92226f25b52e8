"""The managers' arrivals chart reads today's forecast once per hall day (app/services/forecast_today.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from app.services.forecast import ForecastService, HourPoint
from app.services.forecast_today import TodayForecast


class CountingForecast:
    """Stands in for ForecastService: a settable day, counted reads, and a read that can fail."""

    def __init__(self) -> None:
        self.today = dt.date(2026, 12, 4)
        self.reads = 0
        self.failing = False

    async def hourly(self) -> list[HourPoint]:
        self.reads += 1
        if self.failing:
            raise RuntimeError('database away')
        return [HourPoint(9, 4.0 + self.reads, 3), HourPoint(10, 6.5, None)]


def today_forecast(service: CountingForecast) -> TodayForecast:
    return TodayForecast(cast(ForecastService, cast(Any, service)))


async def test_every_page_of_one_day_shares_one_read() -> None:
    service = CountingForecast()
    forecast = today_forecast(service)
    assert await forecast.hourly() == {9: 5.0, 10: 6.5}
    assert await forecast.hourly() == {9: 5.0, 10: 6.5}
    assert service.reads == 1


async def test_a_new_hall_day_reads_again() -> None:
    service = CountingForecast()
    forecast = today_forecast(service)
    await forecast.hourly()
    service.today += dt.timedelta(days=1)
    assert await forecast.hourly() == {9: 6.0, 10: 6.5}
    assert service.reads == 2


async def test_a_failed_read_shows_no_forecast_and_is_not_kept() -> None:
    service = CountingForecast()
    service.failing = True
    forecast = today_forecast(service)
    assert await forecast.hourly() is None
    service.failing = False
    assert await forecast.hourly() == {9: 6.0, 10: 6.5}
    assert service.reads == 2
