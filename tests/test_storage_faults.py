"""A write the database cannot store: a real SQLite that runs out of pages (max_page_count, the same
SQLITE_FULL a full disk gives) refuses the ticket in words with 503, keeps nothing of it, alerts the
manager at once, and takes tickets again as soon as there is room, without a restart."""

from __future__ import annotations

import asyncio
import errno
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.events import AlertRaised, AlertResolved, Event
from app.models import Alert, Ticket, TicketCreate
from app.services.alerts import AlertService, Kind
from app.services.errors import Conflict, StorageUnavailable
from app.services.queue import QueueService
from app.services.storage_watch import DISK_LOW_KEY, MB, StorageWatch
from app.settings import Settings
from app.storage import Failure, classify
from tests.callers import DESK, deps_for
from tests.conftest import AUDIT_KEY
from tests.dbs import SqliteTemplate
from tests.factories import SmallHall, build_small_hall


class PageCap:
    """Caps every new connection of the write engine at the pages the file has now (None: no cap)."""

    def __init__(self, db: Database) -> None:
        self.on = False
        event.listen(db.engine.sync_engine, 'connect', self._connect)

    def _connect(self, dbapi_connection: Any, _record: Any) -> None:
        if self.on:
            cursor = dbapi_connection.cursor()
            cursor.execute('PRAGMA page_count')
            pages = cursor.fetchone()[0]
            cursor.execute(f'PRAGMA max_page_count = {int(pages)}')
            cursor.close()


@pytest.fixture
async def capped(tmp_path: Path, sqlite_template: SqliteTemplate) -> AsyncIterator[tuple[Database, PageCap, SmallHall]]:
    db = Database(sqlite_template.copy_to(tmp_path / 'full.db'), audit_key=AUDIT_KEY)
    db.health.quiet = 0.5  # a full disk is over after this long without a failure (30 s in the app)
    hall = await build_small_hall(db)
    cap = PageCap(db)
    yield db, cap, hall
    await db.dispose()


async def fill(db: Database, cap: PageCap, on: bool) -> None:
    cap.on = on
    await db.engine.dispose()  # the next connection is opened with (or without) the cap


async def tickets(db: Database) -> int:
    async with db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(Ticket))).scalar_one())


def test_storage_faults_are_told_apart_from_bugs() -> None:
    assert classify(sqlite3.OperationalError('database or disk is full')) is Failure.FULL
    assert classify(OSError(errno.ENOSPC, 'No space left on device')) is Failure.FULL
    pg_full = type('DiskFullError', (Exception,), {'sqlstate': '53100'})('could not extend file "base/1/2"')
    assert classify(RuntimeError('wrapped')) is None
    wrapped = RuntimeError('wrapped')
    wrapped.__cause__ = pg_full
    assert classify(wrapped) is Failure.FULL
    assert classify(ConnectionRefusedError(errno.ECONNREFUSED, 'refused')) is Failure.UNREACHABLE
    assert classify(type('AdminShutdown', (Exception,), {'sqlstate': '57P01'})()) is Failure.UNREACHABLE
    assert classify(ValueError('a bug')) is None
    assert classify(sqlite3.IntegrityError('UNIQUE constraint failed')) is None


async def test_a_ticket_that_cannot_be_stored_is_refused_in_words_changes_nothing_and_recovers(
    capped: tuple[Database, PageCap, SmallHall], settings: Settings
) -> None:
    db, cap, hall = capped
    bus = InProcessBus()
    seen: list[Event] = []
    bus.subscribe(seen.append, AlertRaised, AlertResolved, name='test')
    deps = deps_for(db, bus, hall_id=hall.hall_id, settings=settings)
    queue = QueueService(deps)
    await queue.start_live()
    alerts = AlertService(deps, live=queue.live)
    await alerts.start(sweep=False)
    watch = StorageWatch(db, alerts, path=db_folder(db), min_free_bytes=0, period=3600)
    await watch.start()
    await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    await fill(db, cap, True)
    taken, refusal = 1, None
    for _ in range(200):  # free pages inside the file are used up first; then SQLite says the disk is full
        try:
            await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
            taken += 1
        except StorageUnavailable as error:
            refusal = error
            break
    assert refusal is not None, 'the capped database never filled up'
    assert (refusal.status, refusal.code) == (503, 'storage_full')
    assert '工作人员' in refusal.message
    assert await tickets(db) == taken  # nothing of the refused ticket was kept
    assert queue.live is not None and queue.live.waiting_count(next(iter(queue.live.services))) <= taken
    await asyncio.sleep(0.1)  # the alert is raised beside the failing request
    raised = [e for e in seen if isinstance(e, AlertRaised) and e.alert.kind == Kind.STORAGE]
    assert raised and raised[0].alert.severity == 'critical' and '磁盘已满' in raised[0].alert.message
    assert alerts.open[raised[0].alert.key].id == raised[0].alert.id

    await fill(db, cap, False)  # space freed: no restart
    view = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    assert view.ticket.id is not None and await tickets(db) == taken + 1
    assert db.health.failure is Failure.FULL  # one write is not yet "over": a nearly full disk takes some
    await asyncio.sleep(db.health.quiet)
    view = await queue.take_ticket(TicketCreate(service_code=hall.service_a), caller=DESK)
    assert view.ticket.id is not None and await tickets(db) == taken + 2
    await asyncio.sleep(0.1)
    assert any(isinstance(e, AlertResolved) and e.alert.kind == Kind.STORAGE for e in seen)
    assert db.health.failure is None and not any(a.kind == Kind.STORAGE for a in alerts.open.values())
    await watch.stop()
    await alerts.stop()
    await bus.stop()


async def test_an_alert_the_database_cannot_store_is_still_shown_and_clears_itself(settings: Settings) -> None:
    unreachable = Database('postgresql+asyncpg://postgres@127.0.0.1:9/none')  # nothing listens on port 9
    bus = InProcessBus()
    seen: list[Event] = []
    bus.subscribe(seen.append, AlertRaised, AlertResolved, name='test')
    alerts = AlertService(deps_for(unreachable, bus, hall_id=1, settings=settings), live=None)
    watch = StorageWatch(unreachable, alerts, path=Path('.'), min_free_bytes=0, period=3600)
    await watch.follow(Failure.UNREACHABLE)
    await asyncio.sleep(0.1)  # the bus delivers on its own task
    raised = [e.alert for e in seen if isinstance(e, AlertRaised)]
    assert [a.key for a in raised] == ['storage:database_unavailable'] and raised[0].id < 0  # in memory, on the bus
    assert unreachable.health.failure is Failure.UNREACHABLE
    with pytest.raises(Conflict):  # nothing to acknowledge in the database: it clears itself
        await alerts.acknowledge(raised[0].id, actor='boss', role='manager')
    await watch.follow(None)
    await asyncio.sleep(0.1)
    assert [e.alert.key for e in seen if isinstance(e, AlertResolved)] == ['storage:database_unavailable']
    assert alerts.open == {}
    await bus.stop()
    await unreachable.dispose()


def db_folder(db: Database) -> Path:
    return Path(db.url.split(':///', 1)[1]).parent


async def test_managers_are_warned_before_the_disk_fills_and_the_warning_clears_when_space_is_back(
    capped: tuple[Database, PageCap, SmallHall], settings: Settings
) -> None:
    db, _, hall = capped
    bus = InProcessBus()
    alerts = AlertService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings), live=None)
    await alerts.start(sweep=False)
    free = {'bytes': 100 * MB}
    watch = StorageWatch(
        db, alerts, path=db_folder(db), min_free_bytes=500 * MB, period=3600, free=lambda _: free['bytes']
    )
    await watch.start()
    assert DISK_LOW_KEY in alerts.open and alerts.open[DISK_LOW_KEY].severity == 'warning'
    assert '100 MB' in alerts.open[DISK_LOW_KEY].message
    async with db.read_session() as s:  # stored like any alert while there is still room
        stored = (await s.execute(select(Alert).where(Alert.key == DISK_LOW_KEY))).scalar_one()
    assert stored.resolved_at is None
    free['bytes'] = 2_000 * MB
    assert await watch.check() == 2_000 * MB
    assert DISK_LOW_KEY not in alerts.open
    await watch.stop()
    await alerts.stop()
    await bus.stop()
