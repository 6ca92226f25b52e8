"""An SQLite connection closed gracefully while SQLAlchemy force-stops it must still finish closing.

SQLAlchemy's terminate (a connection invalidated, say when a request is cancelled mid-statement) runs a shielded
graceful close and, if that is interrupted, force-stops the connection's thread. The graceful close then sent a
second stop that no thread would ever answer and waited for ever: hung shutdowns and hung test runs.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from app.db import _quick_connect


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
