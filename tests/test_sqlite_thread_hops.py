"""Which SQLite steps hop to the connection's thread: only those that may wait (a lock, a disk write).

Each hop is a thread wake-up and a loop wake-up while the process's write lock is held, so every hop saved is
time no other writer waits. COMMIT (fsync) and the statements of a long transaction hop; a deferred BEGIN, the
pool's rollback after a commit, and BEGIN IMMEDIATE when no other process holds SQLite's write lock never wait,
so they run on the caller's thread. When another process does hold it, BEGIN IMMEDIATE waits on the connection's
thread, never on the event loop's.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import text

from app.db import Database


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> collections.Counter[str]:
    """Steps that went to a connection's thread, by name ('execute' for a statement, 'commit', 'rollback')."""
    counted: collections.Counter[str] = collections.Counter()
    to_thread = aiosqlite.Connection._execute

    async def counting(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        counted[getattr(fn, '__name__', '?')] += 1
        return await to_thread(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, '_execute', counting)
    return counted


async def _write(db: Database, *, short: bool) -> None:
    async with db.write_lock(), db.session(short=short) as s, s.begin():
        await s.execute(text('SELECT count(*) FROM audit_entry'))


async def test_a_short_write_hops_only_for_begin_immediate_and_commit(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    await _write(sqlite_db, short=True)  # the pool's first connection is opened here
    hops.clear()
    for _ in range(3):
        await _write(sqlite_db, short=True)
    assert hops == {'commit': 3}  # no hop for BEGIN IMMEDIATE nor for the pool's rollback after the commit


async def test_a_long_write_hops_for_its_statements_too(sqlite_db: Database, hops: collections.Counter[str]) -> None:
    await _write(sqlite_db, short=False)
    hops.clear()
    await _write(sqlite_db, short=False)
    assert hops == {'execute': 1, 'commit': 1}  # the SELECT


async def test_a_read_hops_for_its_statement_and_its_rollback_but_not_its_begin(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    async def read() -> None:
        async with sqlite_db.read_session() as s:
            await s.execute(text('SELECT count(*) FROM audit_entry'))

    await read()
    hops.clear()
    await read()
    assert hops == {'execute': 1, 'rollback': 1}  # the read snapshot's end stays on the connection's thread


async def test_begin_immediate_waits_off_the_loop_for_another_processs_writer_then_writes(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    await _write(sqlite_db, short=True)
    other = sqlite3.connect(sqlite_db.engine.url.database or '', isolation_level=None)  # a tool, a second app
    other.execute('BEGIN IMMEDIATE')
    hops.clear()
    writing = asyncio.get_running_loop().create_task(_write(sqlite_db, short=True))
    loop_started = asyncio.get_running_loop().time()
    await asyncio.sleep(0.3)
    assert asyncio.get_running_loop().time() - loop_started < 1.0  # the loop was never blocked by the wait
    assert not writing.done()
    other.commit()
    await asyncio.wait_for(writing, 5)
    other.close()
    assert hops == {'execute': 1, 'commit': 1}  # the waiting BEGIN IMMEDIATE went to the connection's thread
    async with sqlite_db.session() as s, s.begin():
        assert (await s.execute(text('PRAGMA busy_timeout'))).scalar() == 15_000  # the patience is back
