"""An SQLite connection closed gracefully while SQLAlchemy force-stops it must still finish closing.

SQLAlchemy's terminate (a connection invalidated, say when a request is cancelled mid-statement) runs a shielded
graceful close and, if that is interrupted, force-stops the connection's thread. The graceful close then sent a
second stop that no thread would ever answer and waited for ever: hung shutdowns and hung test runs.

A connection closed with its transaction open (the cancelled statement's cursor still alive) must let the write lock
go at once: sqlite3 kept it in a zombie connection until the garbage collector came, and the next writer (a
shutdown step) waited the whole busy timeout, 15 s, its thread then answering an event loop already closed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from app.db import Database, _quick_connect


async def test_a_close_that_meets_a_forced_stop_ends(tmp_path: Path) -> None:
    connection = await _quick_connect(str(tmp_path / 'stop.db'), check_same_thread=False)
    closing = asyncio.get_running_loop().create_task(connection.close())
    await asyncio.sleep(0)  # the graceful close has queued its step on the connection's thread
    connection.stop()  # SQLAlchemy's force close, while that step is still queued
    async with asyncio.timeout(5):
        await closing
    connection._thread.join(timeout=5)
    assert not connection._thread.is_alive()


async def test_a_plain_close_still_stops_the_thread(tmp_path: Path) -> None:
    connection = await _quick_connect(str(tmp_path / 'plain.db'), check_same_thread=False)
    await (await connection.execute('CREATE TABLE t (x INTEGER)')).close()
    async with asyncio.timeout(5):
        await connection.close()
    connection._thread.join(timeout=5)
    assert not connection._thread.is_alive()


def _write_lock_is_free(path: Path) -> bool:
    """Whether another connection (a tool, a second app) takes the write lock without waiting."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute('BEGIN IMMEDIATE')
        other.rollback()
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_close_inside_a_transaction_undoes_it_and_frees_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / 'open.db'
    connection = await _quick_connect(str(path), check_same_thread=False)
    await (await connection.execute('CREATE TABLE t (x INTEGER)')).close()
    await connection.execute('BEGIN IMMEDIATE')
    await connection.execute('INSERT INTO t VALUES (1), (2)')
    reading = await connection.execute('SELECT x FROM t')
    assert await reading.fetchone() == (1,)  # a statement still stepping: sqlite3's close leaves a zombie
    await connection.close()
    assert _write_lock_is_free(path)
    assert sqlite3.connect(path).execute('SELECT count(*) FROM t').fetchone() == (0,)
    del reading


async def test_a_session_cancelled_mid_statement_leaves_the_write_lock_free(tmp_path: Path) -> None:
    path = tmp_path / 'cancelled.db'
    database = Database(f'sqlite+aiosqlite:///{path}')
    async with database.session() as s, s.begin():
        await s.execute(text('CREATE TABLE t (x INTEGER)'))
    entered, release = threading.Event(), threading.Event()

    def block() -> int:
        entered.set()
        release.wait(5)
        return 1

    async def write_then_hang() -> None:
        async with database.session() as s, s.begin():
            await s.execute(text('INSERT INTO t VALUES (1)'))
            raw = await (await s.connection()).get_raw_connection()
            await raw.driver_connection.create_function('block', 0, block)
            await s.execute(text('SELECT block()'))  # on the connection's thread: a stop cancels it here

    writing = asyncio.get_running_loop().create_task(write_then_hang())
    async with asyncio.timeout(5):
        while not entered.is_set():
            await asyncio.sleep(0.01)
    writing.cancel()
    release.set()
    with pytest.raises(
        asyncio.CancelledError
    ) as cancelled:  # its traceback keeps the statements alive, as a cycle would
        await writing
    try:
        assert _write_lock_is_free(path)
        async with asyncio.timeout(5), database.session() as s, s.begin():  # the next writer never waits
            assert (await s.execute(text('SELECT count(*) FROM t'))).scalar() == 0
    finally:
        await database.dispose()
    assert cancelled.traceback  # held up to here
