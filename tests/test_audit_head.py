"""The audit chain's remembered head: one statement per row while this process is the only writer, and an unbroken
chain when it is not (another process wrote, or a transaction rolled back)."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from sqlalchemy import event, text

from app.db import Database
from app.services import audit
from tests.conftest import AUDIT_KEY

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


async def _write(db: Database, action: str) -> None:
    async with db.session() as s, s.begin():
        await audit.record(s, actor='clerk', role='staff', action=action, now=NOW)


class StatementLog:
    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        event.listen(db.engine.sync_engine, 'before_cursor_execute', self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(' '.join(statement.split())[:40])


async def test_a_second_row_from_the_same_writer_costs_one_insert_and_no_read(db: Database) -> None:
    await _write(db, 'first')
    log = StatementLog(db)
    await _write(db, 'second')
    audit_statements = [s for s in log.statements if 'audit_entry' in s]
    assert len(audit_statements) == 1 and audit_statements[0].startswith('INSERT INTO audit_entry')
    assert (await audit.verify(db)).ok


async def test_two_writers_taking_turns_keep_one_unbroken_chain(db: Database) -> None:
    other = Database(db.url, audit_key=AUDIT_KEY)  # another process on the same database
    try:
        for turn in range(3):
            await _write(db, f'mine_{turn}')
            await _write(other, f'theirs_{turn}')
            await _write(other, f'theirs_again_{turn}')
        result = await audit.verify(db)
        assert result.ok and result.rows == 9
    finally:
        await other.dispose()


async def test_a_rolled_back_row_does_not_become_the_next_rows_predecessor(db: Database) -> None:
    await _write(db, 'kept')
    with pytest.raises(RuntimeError):
        async with db.session() as s, s.begin():
            await audit.record(s, actor='clerk', role='staff', action='undone', now=NOW)
            raise RuntimeError('the action failed after its audit row')
    await _write(db, 'after')
    result = await audit.verify(db)
    assert result.ok and result.rows == 2


async def test_a_short_transaction_runs_its_statements_and_quick_commit_on_the_loop_thread(
    sqlite_db: Database,
) -> None:
    threads: dict[str, set[int]] = {}

    async def run(short: bool) -> None:
        async with sqlite_db.session(short=short) as s, s.begin():
            raw = (await s.connection()).sync_connection
            assert raw is not None
            sqlite = raw.connection.dbapi_connection._connection._conn  # type: ignore[union-attr]
            sqlite.set_trace_callback(
                lambda sql: threads.setdefault(sql.split()[0].upper(), set()).add(threading.get_ident())
            )
            await s.execute(text('SELECT count(*) FROM audit_entry'))
        sqlite.set_trace_callback(None)

    loop_thread = threading.get_ident()
    await run(short=True)
    assert threads['SELECT'] == {loop_thread}
    assert threads['COMMIT'] == {loop_thread}  # on a quick disk its fsync too (app/db.py CommitTimer)
    threads.clear()
    await run(short=False)
    assert loop_thread not in threads['SELECT']
    assert loop_thread not in threads['COMMIT']  # a long transaction's fsync stays on the connection's thread
