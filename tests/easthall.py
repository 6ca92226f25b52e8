"""东区政务服务中心: the second hall of the city that the 跨区通办 tests build next to the first, in one database.

One zone and one open window; the window serves the services named, and a clerk account may sit at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.clock import utcnow
from app.db import Database
from app.models import Hall, ServiceItem, StaffUser, Window, WindowService, WindowState, Zone
from app.models.people import Role
from tests.hashes import hashed

EAST_CODE = 'east'
EAST = '东区政务服务中心'
EAST_EN = 'East District Service Centre'


@dataclass(frozen=True)
class EastIds:
    hall_id: int
    window_id: int


async def add_east_hall(
    s: AsyncSession,
    *,
    code: str = EAST_CODE,
    window_number: int = 1,
    serves: Sequence[str] = (),
    clerk: tuple[str, str] | None = None,
) -> EastIds:
    """Add 东区 in the session's transaction: its window serves `serves` (service codes); `clerk` (name, password)
    is a staff account of 东区 at that window. A test on the shared Redis gives it a `code` of its own (its stream)."""
    hall = Hall(code=code, name=EAST, name_en=EAST_EN)
    s.add(hall)
    await s.flush()
    zone = Zone(hall_id=hall.id, code='general', name='综合受理')
    s.add(zone)
    await s.flush()
    window = Window(
        hall_id=hall.id,
        zone_id=zone.id,
        number=window_number,
        name=f'东区{window_number}号窗口',
        state=WindowState.OPEN,
    )
    s.add(window)
    await s.flush()
    if serves:
        services = await s.execute(select(ServiceItem).where(col(ServiceItem.code).in_(serves)))
        for priority, service in enumerate(services.scalars(), start=1):
            s.add(WindowService(window_id=window.id, service_id=service.id, priority=priority))
    if clerk is not None:
        s.add(
            StaffUser(
                username=clerk[0],
                display_name='东区窗口',
                role=Role.STAFF,
                window_id=window.id,
                hall_id=hall.id,
                password_hash=hashed(clerk[1]),
                created_at=utcnow(),
            )
        )
    await s.flush()
    assert hall.id is not None and window.id is not None
    return EastIds(hall.id, window.id)


async def add_east_hall_at(url: str, **kwargs: Any) -> EastIds:
    """Add 东区 to the database at `url` (a running app's, from outside its process); `kwargs` as for
    `add_east_hall`."""
    db = Database(url)
    try:
        async with db.session() as s, s.begin():
            return await add_east_hall(s, **kwargs)
    finally:
        await db.dispose()
