"""Which SQLite steps hop to the connection's thread: only those that may wait (a lock, a slow disk).

Each hop is a thread wake-up and a loop wake-up while the process's write lock is held, so every hop saved is
time no other writer waits. The statements and COMMIT of a long transaction hop, and a short one's COMMIT once the
disk's commits are slow; a deferred BEGIN, the end of a read snapshot, the pool's rollback after a commit, a short
write's COMMIT on a quick disk, and BEGIN IMMEDIATE when no other process holds SQLite's write lock never wait, so
they run on the caller's thread. When another process does hold it, BEGIN IMMEDIATE waits on the connection's
thread, never on the event loop's. A lone short unit of work holds the write lock through one turn of the loop at
most (its write group's quiet turn: app/write_groups.py).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from typing import Any

from sqlalchemy import event, text

from app.db import QUICK_COMMIT_MS, CommitTimer, Database, _without_waiting
from app.services.uow import unit_of_work


async def _write(db: Database, *, short: bool) -> None:
    async with db.write_lock(), db.session(short=short) as s, s.begin():
        await s.execute(text('SELECT count(*) FROM audit_entry'))


async def test_a_short_write_on_a_quick_disk_never_hops(sqlite_db: Database, hops: collections.Counter[str]) -> None:
    await _write(sqlite_db, short=True)  # the pool's first connection is opened here
    hops.clear()
    for _ in range(3):
        await _write(sqlite_db, short=True)
    assert hops == {}  # BEGIN IMMEDIATE, the statement, COMMIT and the pool's rollback all ran on the caller's thread
    async with sqlite_db.read_session() as s:
        assert (await s.execute(text('SELECT count(*) FROM audit_entry'))).scalar() == 0  # committed, and readable


async def test_a_slow_disk_sends_short_commits_to_the_connections_thread_until_it_is_quick_again(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    await _write(sqlite_db, short=True)
    timer: CommitTimer = sqlite_db._commits
    timer.observe(0.050)  # one 50 ms fsync: the average is now well past the limit
    assert not timer.on_loop()
    hops.clear()
    await _write(sqlite_db, short=True)
    assert hops == {'commit': 1}  # off the loop, and still timed there: this disk's commit took far under 2 ms
    assert timer.average_ms < 0.050 * 1000
    while not timer.on_loop():
        await _write(sqlite_db, short=True)
    hops.clear()
    await _write(sqlite_db, short=True)
    assert hops == {}  # quick again: back on the loop


def test_the_commit_average_follows_the_disk() -> None:
    timer = CommitTimer()
    assert timer.on_loop()  # a new process starts on the loop; its first commits are timed
    timer.observe(0.0004)
    assert timer.on_loop()
    timer.observe(0.030)  # one 30 ms stall is enough to move off the loop
    assert timer.average_ms > QUICK_COMMIT_MS and not timer.on_loop()
    for _ in range(30):
        timer.observe(0.0004)
    assert timer.on_loop()


async def test_a_lone_short_unit_of_work_holds_the_write_lock_for_one_turn_of_the_loop_and_answers_after(
    sqlite_db: Database,
) -> None:
    """Alone, a take's write group (app/write_groups.py) commits after one turn of the loop in which no other take
    joined it: the lock is seen held in one turn at most, and it is free again by the time the take answers."""
    turns = held = 0

    async def watch() -> None:
        nonlocal turns, held
        while True:
            await asyncio.sleep(0)
            turns += 1
            held += sqlite_db._write_lock is not None and sqlite_db._write_lock.locked()

    async def write() -> None:
        async with unit_of_work(sqlite_db, short=True) as uow:
            await uow.session.execute(text('SELECT count(*) FROM audit_entry'))

    await write()  # the pool's first connection
    watcher = asyncio.get_running_loop().create_task(watch())
    await asyncio.sleep(0)
    for _ in range(5):
        await write()
        assert sqlite_db._write_lock is not None and not sqlite_db._write_lock.locked()
        await asyncio.sleep(0)
    watcher.cancel()
    assert turns >= 5
    assert 0 < held <= 5


async def test_a_long_write_hops_for_its_statements_too(sqlite_db: Database, hops: collections.Counter[str]) -> None:
    await _write(sqlite_db, short=False)
    hops.clear()
    await _write(sqlite_db, short=False)
    assert hops == {'execute': 1, 'commit': 1}  # the SELECT


async def test_a_read_hops_for_its_statement_only(sqlite_db: Database, hops: collections.Counter[str]) -> None:
    async def read() -> None:
        async with sqlite_db.read_session() as s:
            await s.execute(text('SELECT count(*) FROM audit_entry'))

    await read()
    hops.clear()
    await read()
    assert hops == {'execute': 1}  # the read snapshot's end (a rollback that waits for nothing) stays on the loop


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
    assert hops == {'execute': 1}  # the waiting BEGIN IMMEDIATE went to the connection's thread (COMMIT: quick disk)
    async with sqlite_db.session() as s, s.begin():
        assert (await s.execute(text('PRAGMA busy_timeout'))).scalar() == 15_000  # the patience is back


async def test_a_short_read_never_hops_and_a_plain_read_still_does(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    async def read(*, short: bool) -> int:
        async with sqlite_db.read_session(short=short) as s:
            return (await s.execute(text('SELECT count(*) FROM audit_entry'))).scalar_one()

    await read(short=True)
    hops.clear()
    assert await read(short=True) == 0
    assert hops == {}  # the session check of every bearer request: BEGIN, SELECT, fetch and the end on the loop
    assert await read(short=False) == 0
    assert hops == {'execute': 1}  # outside it, a read's statement goes to the connection's thread as before


async def test_a_begin_runs_on_the_sqlite_connection_not_as_a_statement(sqlite_db: Database) -> None:
    """Every session begins a transaction; issued directly, the BEGIN skips SQLAlchemy's statement path."""
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engines = (sqlite_db.engine.sync_engine, sqlite_db.read_engine.sync_engine)
    for engine in engines:
        event.listen(engine, 'before_cursor_execute', seen)
    try:
        for short in (True, False):
            async with sqlite_db.write_lock(), sqlite_db.session(short=short) as s, s.begin():
                raw = (await s.connection()).sync_connection.connection.driver_connection._connection
                assert raw.in_transaction  # begun: BEGIN IMMEDIATE holds SQLite's write lock from here
                await s.execute(text('SELECT count(*) FROM audit_entry'))
        async with sqlite_db.read_session() as s:
            assert (await s.execute(text('SELECT count(*) FROM audit_entry'))).scalar_one() == 0
    finally:
        for engine in engines:
            event.remove(engine, 'before_cursor_execute', seen)
    assert statements == ['SELECT count(*) FROM audit_entry'] * 3  # no BEGIN among them


def test_a_statement_that_would_wait_is_left_to_the_connections_thread(tmp_path: Any) -> None:
    """`_without_waiting` answers None when the database is busy now, and leaves the patience as it was."""
    path = str(tmp_path / 'busy.db')
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute('CREATE TABLE t (x)')
    holder.execute('BEGIN EXCLUSIVE')  # rollback journal: nobody may read until it ends
    reader = sqlite3.connect(path, isolation_level=None, timeout=15)
    assert _without_waiting(reader.cursor(), 'SELECT count(*) FROM t') is None
    assert reader.execute('PRAGMA busy_timeout').fetchone() == (15_000,)
    holder.execute('COMMIT')
    done = _without_waiting(reader.cursor(), 'SELECT count(*) FROM t WHERE x = ?', (1,))
    assert done is not None and done.fetchone() == (0,)
    holder.close()
    reader.close()
