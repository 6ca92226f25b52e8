"""SQLite's WAL-reset bug (3.7.0-3.51.2) needs a checkpoint to run while another connection commits: here no
connection checkpoints by itself, and the one checkpoint path holds the write lock against every connection
(of this process or another); the start-up line names the version and the decision."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import Database, sqlite_decision
from tests.conftest import AUDIT_KEY
from tests.dbs import SqliteTemplate
from tests.factories import build_small_hall


@pytest.fixture
async def hall_db(tmp_path: Path, sqlite_template: SqliteTemplate) -> AsyncIterator[Database]:
    db = Database(sqlite_template.copy_to(tmp_path / 'wal.db'), audit_key=AUDIT_KEY)
    await build_small_hall(db)
    yield db
    await db.dispose()


def test_the_decision_names_the_version_and_why() -> None:
    assert '3.40.1' in sqlite_decision('3.40.1') and 'write lock' in sqlite_decision('3.40.1')
    assert 'fix' in sqlite_decision('3.51.3') and 'fix' in sqlite_decision('3.54.1')
    assert 'range' in sqlite_decision('3.7.0') and 'range' in sqlite_decision('3.51.2')
    assert sqlite_decision().startswith(f'SQLite {sqlite3.sqlite_version}')


async def test_no_connection_checkpoints_by_itself(hall_db: Database) -> None:
    async with hall_db.session() as s:
        assert (await s.execute(text('PRAGMA wal_autocheckpoint'))).scalar_one() == 0
    async with hall_db.read_session() as s:
        assert (await s.execute(text('PRAGMA wal_autocheckpoint'))).scalar_one() == 0


async def test_a_checkpoint_copies_the_wal_back_and_waits_for_the_write_lock(hall_db: Database) -> None:
    path = hall_db.url.split(':///', 1)[1]
    for n in range(20):
        async with hall_db.session() as s, s.begin():
            await s.execute(text('UPDATE hall SET name = :name'), {'name': f'大厅{n}'})
    holding, release = threading.Event(), threading.Event()

    def another_writer() -> None:  # another process's connection, say, in the middle of a write
        connection = sqlite3.connect(path, timeout=10, isolation_level=None)
        connection.execute('BEGIN IMMEDIATE')
        holding.set()
        release.wait(10)
        connection.execute('ROLLBACK')
        connection.close()

    thread = threading.Thread(target=another_writer)
    thread.start()
    holding.wait(5)
    checkpoint = asyncio.create_task(hall_db.checkpoint())
    await asyncio.sleep(0.5)
    assert not checkpoint.done()  # no checkpoint while any connection may commit
    release.set()
    busy, frames, copied = await asyncio.wait_for(checkpoint, 15) or (1, 0, 0)
    thread.join()
    assert busy == 0 and frames > 0 and copied == frames
