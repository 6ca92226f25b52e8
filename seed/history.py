"""A year of synthetic arrival history, so the peak forecast works on the first start.

Arrivals per service, working day and opening hour, drawn (Poisson, plus a day-to-day wobble) from

    level x weekday x day-of-month x after-holiday x hour shape

with the effects a real hall shows: Monday is busiest and Friday quietest, social security and
medical insurance (HRSS, HSA) peak on the 1st-10th and tax on the 1st-15th (申报征期), the first day
after a long holiday brings a rush, and each day peaks 9:00-11:00 and 14:00-16:00 (retirees earlier,
company agents later). Each service's level keeps its windows about 70% busy on an ordinary day,
so the seeded hall copes on average and queues at its peaks. The seed is fixed: the same end day gives the same rows.

Loaded by `python -m seed` only when the hall has no history yet (then the forecast's daily
roll-up takes over), with one executemany per few thousand rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.db import Database
from app.models import Department, Hall, ServiceItem, Window, WindowService, WindowState
from app.models.operations import ArrivalHistory
from app.services.hall_hours import CLOSE_HOUR, HOURS, OPEN_HOUR, after_long_closure, is_working_day
from app.services.uow import unit_of_work

RANDOM_SEED = 20240601
DAYS = 365
UTILISATION = 0.7
WEEKDAY = (1.25, 1.05, 1.0, 0.95, 0.8, 0.9, 0.9)  # Monday .. Sunday (weekend days only when 调休 makes them working)
HOUR_SHAPE = {8: 0.55, 9: 1.45, 10: 1.5, 11: 1.05, 12: 0.45, 13: 0.7, 14: 1.35, 15: 1.2, 16: 0.85, 17: 0.4}
HOUR_SHAPES = {  # retirees come early; company agents favour the afternoon
    'HRSS': {8: 0.9, 9: 1.7, 10: 1.6, 11: 1.1, 12: 0.4, 13: 0.6, 14: 1.1, 15: 0.9, 16: 0.6, 17: 0.3},
    'CIVIL': {8: 0.9, 9: 1.7, 10: 1.6, 11: 1.1, 12: 0.4, 13: 0.6, 14: 1.1, 15: 0.9, 16: 0.6, 17: 0.3},
    'SAMR': {8: 0.4, 9: 1.1, 10: 1.3, 11: 1.0, 12: 0.5, 13: 0.8, 14: 1.5, 15: 1.5, 16: 1.1, 17: 0.5},
    'TAX': {8: 0.4, 9: 1.1, 10: 1.3, 11: 1.0, 12: 0.5, 13: 0.8, 14: 1.5, 15: 1.5, 16: 1.1, 17: 0.5},
}
AFTER_HOLIDAY = 1.35
DAY_WOBBLE_CV = 0.08  # day-to-day variation beyond Poisson noise (weather, news, system outages)
BATCH = 5000


@dataclass(frozen=True)
class MonthPeak:
    """More arrivals on days first..last of each month for a department's services."""

    first: int
    last: int
    factor: float


MONTH_PEAKS = {
    'HRSS': MonthPeak(1, 10, 1.45),  # 社保: contributions and certifications early in the month
    'HSA': MonthPeak(1, 10, 1.45),
    'TAX': MonthPeak(1, 15, 1.25),  # 申报征期
}


def day_factor(day: dt.date, department: str) -> float:
    """Every day-level effect of `day` for a department's services (0 when the hall is closed)."""
    if not is_working_day(day):
        return 0.0
    factor = WEEKDAY[day.weekday()]
    peak = MONTH_PEAKS.get(department)
    if peak and peak.first <= day.day <= peak.last:
        factor *= peak.factor
    if after_long_closure(day):
        factor *= AFTER_HOLIDAY
    return factor


def hour_shares(department: str = '') -> dict[int, float]:
    """Share of a department's daily arrivals per opening hour."""
    shape = HOUR_SHAPES.get(department, HOUR_SHAPE)
    total = sum(shape[h] for h in HOURS)
    return {h: shape[h] / total for h in HOURS}


def window_capacity(links: Iterable[tuple[int, int, int]]) -> dict[int, float]:
    """Windows' worth of capacity per service from (window, service, tier) links: each open window is
    split over its services, a main service (tier 1) weighing four times a fallback (1 / tier squared)."""
    by_window: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for window_id, service_id, tier in links:
        by_window[window_id].append((service_id, tier))
    capacity: dict[int, float] = defaultdict(float)
    for served in by_window.values():
        total = sum(1 / tier**2 for _, tier in served)
        for service_id, tier in served:
            capacity[service_id] += 1 / tier**2 / total
    return dict(capacity)


def synthetic_rows(
    *,
    hall_id: int,
    services: list[tuple[int, str, float, float]],
    end: dt.date,
    days: int = DAYS,
    seed: int = RANDOM_SEED,
) -> list[dict[str, object]]:
    """Rows for the `days` days before `end`: services are (id, department code, daily level, mean minutes)."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []
    for offset in range(days, 0, -1):
        day = end - dt.timedelta(days=offset)
        if not is_working_day(day):
            continue
        for service_id, department, level, minutes in services:
            wobble = rng.gamma(1 / DAY_WOBBLE_CV**2, DAY_WOBBLE_CV**2)
            expected = level * day_factor(day, department) * wobble
            shares = hour_shares(department)
            counts = rng.poisson([expected * shares[h] for h in HOURS])
            for hour, n in zip(HOURS, counts, strict=True):
                rows.append(
                    {
                        'hall_id': hall_id,
                        'service_id': service_id,
                        'day': day,
                        'hour': hour,
                        'arrivals': int(n),
                        'mean_handling_minutes': round(minutes * rng.uniform(0.85, 1.15), 1) if n else None,
                    }
                )
    return rows


async def ensure_history(db: Database, *, hall_code: str, end: dt.date) -> int:
    """Insert a synthetic year before `end` for the hall, unless it already has history; rows written."""
    async with unit_of_work(db) as uow:
        s = uow.session
        hall_id = (await s.execute(select(Hall.id).where(Hall.code == hall_code))).scalar_one()
        present = (
            await s.execute(select(func.count()).select_from(ArrivalHistory).where(ArrivalHistory.hall_id == hall_id))
        ).scalar_one()
        if present:
            return 0
        services = await _service_levels(s, hall_id)
        rows = synthetic_rows(hall_id=hall_id, services=services, end=end)
        connection = await s.connection()  # Core executemany: the ORM's bulk path is ten times slower here
        for start in range(0, len(rows), BATCH):
            await connection.execute(insert(ArrivalHistory.__table__), rows[start : start + BATCH])
    return len(rows)


async def _service_levels(s: AsyncSession, hall_id: int) -> list[tuple[int, str, float, float]]:
    """(id, department, arrivals per ordinary day, mean minutes) per service the open windows serve."""
    links = (
        await s.execute(
            select(WindowService.window_id, WindowService.service_id, WindowService.priority)
            .join(Window, Window.id == WindowService.window_id)
            .where(Window.hall_id == hall_id, Window.state == WindowState.OPEN)
        )
    ).all()
    capacity = window_capacity((w, sv, t) for w, sv, t in links)
    rows = (
        await s.execute(
            select(ServiceItem.id, Department.code, ServiceItem.avg_handling_minutes).join(
                Department, Department.id == ServiceItem.department_id
            )
        )
    ).all()
    minutes_open = (CLOSE_HOUR - OPEN_HOUR) * 60
    return [
        (sid, department, UTILISATION * capacity[sid] * minutes_open / minutes, minutes)
        for sid, department, minutes in rows
        if capacity.get(sid)
    ]
