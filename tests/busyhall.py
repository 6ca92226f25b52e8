"""A busy hall for concurrency tests: many open windows all serving one service.

Also runnable as a worker in its own OS process (tests/test_concurrency.py starts several):

    python -m tests.busyhall DB_URL HALL_ID WINDOW_ID[,WINDOW_ID...]

It prints `ready`, waits for one line on stdin (the start signal, so all workers begin together),
then serves its windows concurrently (call next, complete, until the queue is empty) and prints
one JSON line: {"served": {window_id: [ticket ids in call order]}, "began": t, "ended": t}, the wall
times (time.time()) at which it started serving and found the queue empty.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sys
import time
import traceback
from dataclasses import dataclass

from sqlmodel import select

from app.bus import InProcessBus
from app.clock import hall_day, utcnow
from app.db import Database
from app.models import Department, Hall, ServiceItem, Ticket, Window, WindowService, WindowState, Zone
from app.models.ticket import Channel, DailyCounter
from app.security import codes
from app.security.keys import Purpose
from app.services.errors import NotFound
from app.services.queue import QueueService
from app.settings import Settings, load_settings
from tests.callers import DESK, deps_for

SERVICE_CODE = 'BUSY'
PREFIX = 'Q'


@dataclass(frozen=True)
class BusyHall:
    hall_id: int
    service_code: str
    window_ids: list[int]


async def build_busy_hall(db: Database, *, windows: int = 12) -> BusyHall:
    async with db.session() as s, s.begin():
        hall = Hall(code='busy', name='繁忙大厅')
        dept = Department(code='BUSYDEPT', name='繁忙局')
        s.add_all([hall, dept])
        await s.flush()
        zone = Zone(hall_id=hall.id, code='all', name='全部', width=2000, height=300)
        service = ServiceItem(
            code=SERVICE_CODE, name='热门事项', ticket_prefix=PREFIX, department_id=dept.id, avg_handling_minutes=5
        )
        s.add_all([zone, service])
        await s.flush()
        rows = [
            Window(
                hall_id=hall.id, zone_id=zone.id, number=n, name=f'{n}号窗口', x=40 * n, y=50, state=WindowState.OPEN
            )
            for n in range(1, windows + 1)
        ]
        s.add_all(rows)
        await s.flush()
        s.add_all([WindowService(window_id=w.id, service_id=service.id, priority=1) for w in rows])
    return BusyHall(hall.id, SERVICE_CODE, [w.id for w in rows])  # type: ignore[misc]


async def issue_waiting(db: Database, busy: BusyHall, count: int, *, settings: Settings) -> list[int]:
    """Put `count` waiting tickets in the queue in one transaction (fast setup; take_ticket costs O(queue) each)."""
    now = utcnow()
    day = hall_day(now, settings.tz)
    async with db.session() as s, s.begin():
        service_id = (await s.execute(select(ServiceItem.id).where(ServiceItem.code == busy.service_code))).scalar_one()
        tickets = [
            Ticket(
                hall_id=busy.hall_id,
                service_id=service_id,
                day=day,
                number=f'{PREFIX}{n:03d}',
                code=codes.tracking_code(),
                channel=Channel.KIOSK,
                taken_at=now + dt.timedelta(microseconds=n),
                queued_at=now + dt.timedelta(microseconds=n),
            )
            for n in range(1, count + 1)
        ]
        s.add_all(tickets)
        s.add(DailyCounter(hall_id=busy.hall_id, day=day, prefix=PREFIX, last=count))
        await s.flush()
        return [t.id for t in tickets if t.id is not None]


def queue_service(db: Database, bus: InProcessBus, settings: Settings, hall_id: int) -> QueueService:
    return QueueService(deps_for(db, bus, hall_id=hall_id, settings=settings))


async def serve_window(queue: QueueService, window_id: int) -> list[int]:
    """Call and complete at one window until nobody is waiting; the ids of the tickets it called."""
    served: list[int] = []
    while True:
        try:
            view = await queue.call_next(window_id, caller=DESK)
        except NotFound as error:
            if error.code != 'queue_empty':
                raise
            return served
        assert view.ticket.id is not None
        served.append(view.ticket.id)
        await queue.complete(window_id, caller=DESK)


@dataclass(frozen=True)
class WorkerRun:
    served: dict[int, list[int]]
    began: float
    ended: float


async def _worker(url: str, hall_id: int, window_ids: list[int]) -> WorkerRun:
    settings = load_settings()
    db = Database(url, audit_key=settings.key(Purpose.AUDIT))
    bus = InProcessBus()
    try:
        queue = queue_service(db, bus, settings, hall_id)
        async with db.session() as s:  # open the pool before the start signal
            await s.get(Hall, hall_id)
        print('ready', flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        began = time.time()
        results = await asyncio.gather(*(serve_window(queue, w) for w in window_ids))
        return WorkerRun(dict(zip(window_ids, results, strict=True)), began, time.time())
    finally:
        await bus.stop()
        await db.dispose()


def main(argv: list[str]) -> int:
    url, hall_id, windows = argv
    try:
        run = asyncio.run(_worker(url, int(hall_id), [int(w) for w in windows.split(',')]))
    except Exception:
        traceback.print_exc()
        return 1
    print(json.dumps({'served': run.served, 'began': run.began, 'ended': run.ended}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
