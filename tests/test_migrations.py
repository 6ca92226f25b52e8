"""Migrations: the models and the migration scripts agree, and upgrading keeps every row."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import column as sa_column
from sqlalchemy import create_engine, func, inspect, text
from sqlalchemy import select as sa_select
from sqlalchemy import table as sa_table
from sqlmodel import SQLModel, select

import app.models  # noqa: F401
from app.bus import InProcessBus
from app.clock import utcnow
from app.db import Database
from app.migrate import alembic_config, upgrade
from app.models.people import Role
from app.models.ticket import Ticket, TicketCreate
from app.security.keys import Purpose
from app.services import audit
from app.services.key_check import verify_key
from app.services.queue import QueueService
from app.settings import load_settings
from app.users import add_user
from tests.callers import DESK, deps_for
from tests.dbs import PostgresDatabase
from tests.factories import build_small_hall


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    url = f'sqlite+aiosqlite:///{tmp_path / "m.db"}'
    upgrade(url)
    engine = create_engine(f'sqlite:///{tmp_path / "m.db"}')
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert diff == [], f'models changed without a migration: {diff}'


def test_upgrade_from_the_first_schema_keeps_rows(tmp_path: Path) -> None:
    path = tmp_path / 'old.db'
    url = f'sqlite+aiosqlite:///{path}'
    command.upgrade(alembic_config(url), '0001')
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO hall (code, name, name_en, width, height) VALUES ('main', '大厅', 'Hall', 10, 10)")
        db.execute("INSERT INTO department (code, name, name_en) VALUES ('D', '局', 'Dept')")
        db.execute(
            'INSERT INTO service_item (code, name, name_en, description, ticket_prefix, sla_days, '
            'avg_handling_minutes, queue_alert_threshold, materials, department_id) '
            "VALUES ('S', '事项', 'Item', '', 'A', 5, 10, 15, '[]', 1)"
        )
    upgrade(url)
    upgrade(url)
    with sqlite3.connect(path) as db:
        assert db.execute('SELECT code, questions, workflow FROM service_item').fetchall() == [('S', '[]', '[]')]
        assert db.execute('SELECT name, prompts FROM hall').fetchall() == [('大厅', '{}')]
        assert db.execute('SELECT version_num FROM alembic_version').fetchone()[0] != '0001'


def test_upgrade_keeps_the_newest_of_duplicate_open_alerts(tmp_path: Path) -> None:
    """0005 makes open alerts unique per key; older duplicates (two processes raised one) are resolved first."""
    path = tmp_path / 'alerts.db'
    url = f'sqlite+aiosqlite:///{path}'
    command.upgrade(alembic_config(url), '0004')
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO hall (code, name, name_en, width, height) VALUES ('main', '大厅', 'Hall', 10, 10)")
        for raised in ('2026-06-03 09:00:00', '2026-06-03 09:00:01'):
            db.execute(
                'INSERT INTO alert (kind, severity, target, message, hall_id, key, raised_at) '
                "VALUES ('help', 'critical', 'K01', 'help', 1, 'help:K01', ?)",
                (raised,),
            )
    upgrade(url)
    with sqlite3.connect(path) as db:
        rows = db.execute('SELECT id, resolved_at FROM alert ORDER BY id').fetchall()
        assert rows == [(1, '2026-06-03 09:00:00'), (2, None)]
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(
                'INSERT INTO alert (kind, severity, target, message, hall_id, key, raised_at) '
                "VALUES ('help', 'critical', 'K01', 'help', 1, 'help:K01', '2026-06-03 09:01:00')"
            )


PREVIOUS_RELEASE = '0012'  # the schema 0.1.0 ended with (CHANGELOG.md); 0.2.0 adds the tables below
NEW_TABLES = {'config_version', 'home_visit', 'key_check', 'monthly_report', 'staffing_move', 'ticket_handoff'}
AUDIT_KEY = load_settings().key(Purpose.AUDIT)


async def _counts(db: Database) -> dict[str, int]:
    """Rows per table of the previous release's schema."""
    async with db.read_session() as s:
        return {
            table.name: (await s.execute(select(func.count()).select_from(table))).scalar_one()
            for table in SQLModel.metadata.sorted_tables
            if table.name not in NEW_TABLES
        }


async def _a_hall_that_ran_on_the_previous_release(db: Database) -> None:
    """What a hall's database holds after a morning: staff, tickets served and waiting, events, audit rows."""
    hall = await build_small_hall(db)
    bus = InProcessBus()
    queue = QueueService(deps_for(db, bus, hall_id=hall.hall_id))
    for service in (hall.service_a, hall.service_a, hall.service_b, hall.service_c):
        await queue.take_ticket(TicketCreate(service_code=service), caller=DESK)
    await queue.call_next(hall.window_1, caller=DESK)
    await queue.complete(hall.window_1, caller=DESK)
    await queue.call_next(hall.window_2, caller=DESK)
    await add_user(db, username='clerk9', role=Role.STAFF, password='Clerk-nine-pass-9', window_number=4)
    await bus.stop()


async def _into_the_previous_schema(source: Database, target: Database) -> None:
    """Copy every row into the older schema, each table with only the columns that schema has.

    Today's code writes the morning (it is the only code here), and the copy keeps exactly what the previous
    release could have stored: a column a later release added never reaches the old database.
    """
    async with target.engine.connect() as connection:
        old_columns = await connection.run_sync(
            lambda sync: {
                name: {c['name'] for c in inspect(sync).get_columns(name)} for name in inspect(sync).get_table_names()
            }
        )
    async with source.engine.connect() as reading, target.engine.begin() as writing:
        for table in SQLModel.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name in old_columns.get(table.name, ())]
            if not columns:
                continue
            rows = [dict(row) for row in (await reading.execute(sa_select(*columns))).mappings()]
            if rows:
                old_table = sa_table(table.name, *(sa_column(c.name, c.type) for c in columns))  # no new defaults
                await writing.execute(old_table.insert(), rows)
            if target.engine.dialect.name == 'postgresql' and 'id' in old_columns[table.name] and rows:
                await writing.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {max(r['id'] for r in rows)})")
                )


@pytest.mark.parametrize('engine', ['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
async def test_upgrade_from_the_previous_release_keeps_every_row_and_an_intact_audit_chain(
    tmp_path: Path, engine: str
) -> None:
    """The upgrade order of docs/operations.md (stop, back up, migrate, start) on a database of release 0.1.0."""
    pg = PostgresDatabase() if engine == 'postgres' else None
    if pg is not None:
        await asyncio.to_thread(pg.create, PREVIOUS_RELEASE)
        url = pg.url
    else:
        url = f'sqlite+aiosqlite:///{tmp_path / "release-0.1.db"}'
        await asyncio.to_thread(command.upgrade, alembic_config(url), PREVIOUS_RELEASE)
    source = Database(f'sqlite+aiosqlite:///{tmp_path / "morning.db"}', audit_key=AUDIT_KEY)
    try:
        await asyncio.to_thread(upgrade, f'sqlite+aiosqlite:///{tmp_path / "morning.db"}')
        await _a_hall_that_ran_on_the_previous_release(source)
        db = Database(url, audit_key=AUDIT_KEY)
        await _into_the_previous_schema(source, db)
        before = await _counts(db)
        await db.dispose()

        await asyncio.to_thread(upgrade, url)

        db = Database(url, audit_key=AUDIT_KEY)
        try:
            assert await _counts(db) == before
            assert before['ticket'] == 4 and before['ticket_event'] >= 7 and before['audit_entry'] >= 7
            async with db.read_session() as s:
                revision = (await s.execute(text('SELECT version_num FROM alembic_version'))).scalar_one()
                statuses = sorted((await s.execute(select(Ticket.status))).scalars())
            assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert statuses == ['called', 'completed', 'waiting', 'waiting']
            assert (await audit.verify(db)).ok
            assert await verify_key(db, load_settings().secret, now=utcnow()) is True  # the first start stores it
        finally:
            await db.dispose()
    finally:
        await source.dispose()
        if pg is not None:
            await asyncio.to_thread(pg.drop)
