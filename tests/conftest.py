"""Fixtures: databases (SQLite per test, PostgreSQL per run), bus, clock, a small hall, the queue, its kiosks,
the device bridge's emulated printer and ID service."""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from app.bus import InProcessBus
from app.db import Database
from app.security.addresses import address_key, stored_address
from app.security.crypto import FieldCipher
from app.security.keys import Purpose
from app.services.auth import AuthService
from app.services.kiosk import KioskService
from app.services.queue import QueueService
from app.settings import Settings, get_settings, load_settings
from tests.bridgekit import EscposPrinterEmulator, IdServiceEmulator
from tests.callers import deps_for
from tests.dbs import PostgresDatabase, SqliteTemplate
from tests.factories import SmallHall, build_small_hall
from tests.kiosk_hall import add_kiosk_hall

AUDIT_KEY = load_settings().key(Purpose.AUDIT)  # the key of every app in this run (the root conftest sets SECRET_KEY)


def audited(address: str) -> str:
    """What an audit row of this run stores of a client address: its network and keyed digest, never itself."""
    return stored_address(address, address_key(AUDIT_KEY))


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)  # 10:00 in the hall

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += dt.timedelta(minutes=minutes)


@pytest.fixture(scope='session')
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp('template'))


@pytest.fixture(scope='session')
def postgres() -> Iterator[PostgresDatabase]:
    database = PostgresDatabase()
    database.create()
    yield database
    database.drop()


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: SqliteTemplate
) -> AsyncIterator[Database]:
    """Each test that uses `db` runs on SQLite and on PostgreSQL."""
    if request.param == 'sqlite':
        database = Database(sqlite_template.copy_to(tmp_path / 'test.db'), audit_key=AUDIT_KEY)
    else:
        pg: PostgresDatabase = request.getfixturevalue('postgres')
        database = Database(pg.url, audit_key=AUDIT_KEY)
        await pg.truncate(database)
    yield database
    await database.dispose()


@pytest.fixture
async def sqlite_db(tmp_path: Path, sqlite_template: SqliteTemplate) -> AsyncIterator[Database]:
    database = Database(sqlite_template.copy_to(tmp_path / 'test.db'), audit_key=AUDIT_KEY)
    yield database
    await database.dispose()


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def bus() -> AsyncIterator[InProcessBus]:
    bus = InProcessBus()
    yield bus
    await bus.stop()


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return FieldCipher({'k1': settings.secret}, 'k1')


@pytest.fixture
async def hall(db: Database) -> SmallHall:
    return await build_small_hall(db)


@pytest.fixture
def queue(
    db: Database, bus: InProcessBus, settings: Settings, cipher: FieldCipher, hall: SmallHall, clock: FakeClock
) -> QueueService:
    return QueueService(deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher))


@pytest.fixture
async def kiosks(
    db: Database,
    bus: InProcessBus,
    settings: Settings,
    cipher: FieldCipher,
    queue: QueueService,
    hall: SmallHall,
    clock: FakeClock,
) -> KioskService:
    """The kiosk service of the small hall with a kiosk and its peripherals (tests/kiosk_hall.py)."""
    await add_kiosk_hall(db, hall.hall_id)
    auth = AuthService(deps_for(db, hall_id=hall.hall_id, settings=settings, clock=clock))
    return KioskService(
        deps_for(db, bus, hall_id=hall.hall_id, settings=settings, clock=clock, cipher=cipher), queue, auth=auth
    )


@pytest.fixture
async def printer() -> AsyncIterator[EscposPrinterEmulator]:
    """A network ESC/POS printer for the device bridge (tests/bridgekit.py)."""
    emulator = await EscposPrinterEmulator().start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def id_service() -> AsyncIterator[IdServiceEmulator]:
    """The ID card reader's local service for the device bridge (tests/bridgekit.py)."""
    emulator = await IdServiceEmulator().start()
    yield emulator
    await emulator.stop()


@pytest.fixture
async def ui_hall(tmp_path: Path, sqlite_template: SqliteTemplate, monkeypatch: pytest.MonkeyPatch) -> SmallHall:
    """A migrated SQLite database with the small hall, set as DATABASE_URL for the app under test."""
    url = sqlite_template.copy_to(tmp_path / 'ui.db')
    database = Database(url)
    built = await build_small_hall(database)
    await database.dispose()
    monkeypatch.setenv('DATABASE_URL', url)
    # the audit's signed anchors belong with their database: the run's shared var/ file held an earlier test's
    # anchors, so this app's chain check reported its row 1 as differing from them
    monkeypatch.setenv('AUDIT_ANCHOR_FILE', str(tmp_path / 'audit-anchors.jsonl'))
    get_settings.cache_clear()
    yield built
    get_settings.cache_clear()


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """SQLite steps that went to a connection's thread, by name ('execute' for a statement, 'commit', 'rollback')."""
    counted: collections.Counter[str] = collections.Counter()
    to_thread = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted[getattr(fn, '__name__', '?')] += 1
        return await to_thread(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, '_execute', counting)
    return counted
