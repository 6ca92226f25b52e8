"""A small hall built directly in the database, so engine tests do not depend on the seed."""

from __future__ import annotations

from dataclasses import dataclass

from app.clock import utcnow
from app.db import Database
from app.models import Department, Hall, ServiceItem, StaffUser, Window, WindowService, WindowState, Zone
from app.models.people import Role
from tests.hashes import hashed
from tests.totp import enrol


@dataclass(frozen=True)
class SmallHall:
    hall_id: int
    service_a: str
    service_b: str
    service_c: str
    window_1: int  # serves A (main) and B (fallback)
    window_2: int  # serves B (main)
    window_3: int  # serves A, closed
    window_4: int  # serves C only


async def build_small_hall(db: Database) -> SmallHall:
    async with db.session() as s, s.begin():
        hall = Hall(code='main', name='测试大厅')
        s.add(hall)
        await s.flush()
        zone = Zone(hall_id=hall.id, code='general', name='综合受理', width=500, height=300)
        dept = Department(code='DEPT', name='测试局')
        s.add_all([zone, dept])
        await s.flush()
        services = [
            ServiceItem(code='SVC-A', name='事项甲', ticket_prefix='A', department_id=dept.id, avg_handling_minutes=10),
            ServiceItem(code='SVC-B', name='事项乙', ticket_prefix='B', department_id=dept.id, avg_handling_minutes=6),
            ServiceItem(code='SVC-C', name='事项丙', ticket_prefix='C', department_id=dept.id, avg_handling_minutes=8),
        ]
        s.add_all(services)
        windows = [
            Window(hall_id=hall.id, zone_id=zone.id, number=n, name=f'{n}号窗口', x=50 * n, y=50, state=state)
            for n, state in (
                (1, WindowState.OPEN),
                (2, WindowState.OPEN),
                (3, WindowState.CLOSED),
                (4, WindowState.OPEN),
            )
        ]
        s.add_all(windows)
        await s.flush()
        a, b, c = (svc.id for svc in services)
        w1, w2, w3, w4 = (w.id for w in windows)
        s.add_all(
            [
                WindowService(window_id=w1, service_id=a, priority=1),
                WindowService(window_id=w1, service_id=b, priority=2),
                WindowService(window_id=w2, service_id=b, priority=1),
                WindowService(window_id=w3, service_id=a, priority=1),
                WindowService(window_id=w4, service_id=c, priority=1),
            ]
        )
        s.add(
            StaffUser(
                username='w01',
                display_name='张三',
                role=Role.STAFF,
                window_id=w1,
                hall_id=hall.id,
                password_hash=hashed('Window-01-pass'),
                created_at=utcnow(),
            )
        )
        s.add(
            StaffUser(
                username='boss',
                display_name='李四',
                role=Role.MANAGER,
                hall_id=hall.id,
                password_hash=hashed('Manager-01-pass'),
                created_at=utcnow(),
            )
        )
    await enrol(db)
    return SmallHall(hall.id, 'SVC-A', 'SVC-B', 'SVC-C', w1, w2, w3, w4)
