"""Async engine and sessions for SQLite (default) and PostgreSQL, with the same code on both.

SQLite runs in WAL mode with foreign keys, a busy timeout and synchronous=FULL. A `session()`
starts with BEGIN IMMEDIATE: the write lock is taken up front, so a read-then-write (call_next)
can never interleave with another writer (PostgreSQL uses FOR UPDATE SKIP LOCKED). Pure reads use
`read_session()`, a second engine whose transactions begin DEFERRED, so readers never queue for
the write lock. `write_lock` lets one process hand the SQLite write lock over in FIFO order instead
of in SQLite's busy-timeout backoff (on PostgreSQL it is a no-op).

The composition root builds the Database with the audit key (`audit_key`); every session it opens
carries that key in `Session.info[AUDIT_KEY]`, so app.services.audit can chain a row inside any
service's transaction without a module global and without a key parameter on every service. A
Database built without the key (a script that never audits) cannot write an audit row: `record`
refuses loudly instead of falling back to an unkeyed hash.

SQLite's WAL-reset bug (3.7.0 to 3.51.2; Python here links 3.40.1; no maintained DB-API wheel ships
3.51.3+: pysqlite3-binary bundles 3.51.1, apsw is not a DB-API driver for aiosqlite/SQLAlchemy) needs a
checkpoint to run while another connection commits the write that rewinds the WAL. So no connection
checkpoints by itself (`wal_autocheckpoint=0`, here and in the migrations), and `checkpoint()` runs
only while a guard connection holds the write lock (BEGIN IMMEDIATE): no connection, in this or any
process, can commit (or rewind the WAL) during a checkpoint. `sqlite_decision()` is logged at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import partial, update_wrapper
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app import tasks
from app.security.files import private_dir, private_file
from app.services.errors import DomainError
from app.storage import StorageHealth, classify, refusal
from app.write_groups import AfterCommit, WriteGroups

log = logging.getLogger(__name__)

AUDIT_KEY = 'audit_key'  # Session.info entry: the key of the audit chain (app.services.audit)
AUDIT_HEAD = 'audit_head'  # Session.info entry: the chain's head as this Database last wrote it (AuditHead)

BUSY_TIMEOUT_MS = 15_000
SQLITE_PRAGMAS = (
    'PRAGMA journal_mode=WAL',
    'PRAGMA foreign_keys=ON',
    f'PRAGMA busy_timeout={BUSY_TIMEOUT_MS}',
    'PRAGMA synchronous=FULL',
    'PRAGMA wal_autocheckpoint=0',  # only Database.checkpoint() moves the WAL back (WAL-reset bug, above)
)
CHECKPOINT_SECONDS = 10.0
WAL_RESET_BUG = ((3, 7, 0), (3, 51, 2))  # the affected SQLite versions (fixed in 3.51.3)


def sqlite_decision(version: str = sqlite3.sqlite_version) -> str:
    """The start-up line: which SQLite runs, and why the WAL-reset bug cannot hurt it."""
    numbers = tuple(int(part) for part in version.split('.')[:3])
    first, last = WAL_RESET_BUG
    if not first <= numbers <= last:
        return f'SQLite {version}: has the WAL-reset fix (affected: 3.7.0-3.51.2)'
    return (
        f'SQLite {version}: in the WAL-reset bug range 3.7.0-3.51.2; kept, because the design cannot trigger it:'
        ' no auto-checkpoint, checkpoints only under the write lock (app/db.py, docs/operations.md)'
    )


QUICK_CURSOR_STEPS = frozenset({'fetchone', 'fetchmany', 'fetchall', 'close'})
DEFERRED_BEGINS = frozenset({'BEGIN', 'BEGIN DEFERRED', 'BEGIN TRANSACTION', 'BEGIN DEFERRED TRANSACTION'})
# Set while a short write transaction runs (Database.session(short=True)): its statements, too, run on the caller's
# thread (only BEGIN IMMEDIATE waits for another writer; once it holds the lock, a short statement never waits), and
# so does its COMMIT while the disk's commits are quick (the Database's CommitTimer, held here).
_short_writes: ContextVar[CommitTimer | None] = ContextVar('halltwin_short_writes', default=None)
# Set while a short read session runs (Database.read_session(short=True)): its statements (a point lookup by a unique
# key) run on the caller's thread too, unless the database answers busy at once (then on the connection's thread).
_short_reads: ContextVar[bool] = ContextVar('halltwin_short_reads', default=False)
QUICK_COMMIT_MS = 2.0  # a short write's COMMIT runs on the event loop while the disk's commits average this or less
COMMIT_WEIGHT = 0.2  # the newest commit's share of that average


class CommitTimer:
    """Where a short write's COMMIT (its fsync) runs: on the event loop's thread while this disk's commits are quick.

    Why: on the connection's thread a COMMIT costs two hops, and the write lock stays held until the loop comes back to
    the committing task, behind every request and page update queued meanwhile (under load, most of the time the lock
    was held). On the loop, a write group's COMMIT (app/write_groups.py) ends the lock's hold at once. A slow disk (an
    SD card, a busy array) would stall every page for each fsync, so every commit is timed, wherever it ran: once the
    average passes QUICK_COMMIT_MS the commits go back to the connection's thread, and return when the disk is quick
    again.
    """

    def __init__(self) -> None:
        self.average_ms = 0.0

    def on_loop(self) -> bool:
        return self.average_ms <= QUICK_COMMIT_MS

    def observe(self, seconds: float) -> None:
        self.average_ms += COMMIT_WEIGHT * (seconds * 1000 - self.average_ms)

    def run(self, commit: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        try:
            return commit()
        finally:
            self.observe(time.perf_counter() - started)


class QuickConnection(aiosqlite.Connection):
    """aiosqlite, except for the steps that cannot wait: a cursor's creation, its fetches and its close run on the
    caller's thread instead of a round trip to the connection's thread (2-3 of the 3-4 hops of every statement,
    each a thread wake-up and a loop wake-up). What may wait stays on the connection's thread: BEGIN IMMEDIATE
    while another process holds the write lock (it waits up to busy_timeout; a free lock is taken here at once,
    `_without_waiting`), every statement (it takes its read snapshot or writes pages) and COMMIT
    (fsync). The connection is used by one caller at a time (SQLAlchemy awaits each step), so the two threads never
    touch it at once; sqlite3 runs serialized (threadsafety 3) and is opened with check_same_thread=False.

    Inside a short write transaction (`Database.session(short=True)`, the queue's commands: a handful of indexed
    statements) the statements after BEGIN IMMEDIATE run on the caller's thread too: holding the write lock, none
    of them waits for anyone, and each costs less than the round trip it saves; its COMMIT does while the disk's
    commits are quick (CommitTimer). Three more steps never wait: a deferred BEGIN (a read session's: it takes no
    lock until its first read), the end of a read snapshot (a read connection's rollback: nothing written, no lock
    to wait for) and the pool's rollback of a connection with no transaction open (after every commit), so they run
    on the caller's thread as well, and so do the statements of a short read session (`Database.read_session(short=
    True)`: a point lookup) unless the database answers busy at once. `reads_only`: this connection belongs to the
    read engine."""

    def __init__(self, *args: Any, reads_only: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop_sent = False
        self.reads_only = reads_only

    def stop(self) -> asyncio.Future[Any] | None:
        """Send the connection's thread its stop once: the thread ends at the first, so a later stop's future would
        never be answered. SQLAlchemy's terminate (a connection invalidated, say by a cancelled request) force-stops
        while its shielded graceful close still runs, and that close() then waited on a second stop for ever: a hung
        shutdown, or a test run's event loop that never closed."""
        if self._stop_sent:
            return None
        self._stop_sent = True
        return super().stop()

    async def _execute(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(fn, '__self__', None)
        name = getattr(fn, '__name__', '')
        quick = (isinstance(owner, sqlite3.Cursor) and name in QUICK_CURSOR_STEPS) or (
            name == 'cursor' and isinstance(owner, sqlite3.Connection)
        )
        if not quick and name == 'execute' and isinstance(owner, sqlite3.Cursor) and args:
            statement = str(args[0]).lstrip()
            if statement[:5].upper() == 'BEGIN':  # a deferred BEGIN takes no lock; BEGIN IMMEDIATE may wait for one
                quick = statement.rstrip().upper() in DEFERRED_BEGINS
            else:
                quick = _short_writes.get() is not None
        if not quick and name == 'rollback' and isinstance(owner, sqlite3.Connection):
            quick = self.reads_only or not owner.in_transaction  # a read snapshot's end, or the pool's reset
        here = self._running and self._connection is not None
        if quick and here:
            return fn(*args, **kwargs)
        timer = _short_writes.get()
        if timer is not None and name == 'commit' and isinstance(owner, sqlite3.Connection):
            if here and timer.on_loop():
                return timer.run(fn)
            fn = update_wrapper(partial(timer.run, fn), fn)  # timed there too: a quick disk brings the commits back
        if here and name == 'execute' and isinstance(owner, sqlite3.Cursor) and self._waits_only_if_busy(args):
            done = _without_waiting(owner, *args)
            if done is not None:
                return done
        return await super()._execute(fn, *args, **kwargs)

    def begin_here(self, statement: str) -> bool:
        """Run a transaction's BEGIN directly on the sqlite3 connection, on the caller's thread, if it cannot wait: a
        deferred BEGIN always, BEGIN IMMEDIATE while no other process holds the write lock. True when it ran.

        Why: issued as a statement (`exec_driver_sql`), a BEGIN went through SQLAlchemy's whole execution path (its
        context, events, cursor and result) and cost about as much as the work of a short transaction's statements;
        every write and every read session begins one. When this answers False (another process writes), the BEGIN
        is issued as a statement and waits on the connection's thread as before."""
        connection = self._connection
        if not self._running or connection is None:
            return False
        if statement.upper() in DEFERRED_BEGINS:
            connection.execute(statement)
            return True
        return _without_waiting(connection.cursor(), statement) is not None

    def savepoint_here(self, statement: str) -> bool:
        """Run a SAVEPOINT, RELEASE or ROLLBACK TO of a short write transaction directly on the sqlite3 connection (it
        holds the write lock: none of them waits, and inside the transaction none commits). True when it ran; else it
        goes through SQLAlchemy's statement path (a long transaction's savepoint, on the connection's thread)."""
        connection = self._connection
        if not self._running or connection is None or _short_writes.get() is None:
            return False
        connection.execute(statement)
        return True

    def _waits_only_if_busy(self, args: tuple[Any, ...]) -> bool:
        """BEGIN IMMEDIATE, or a short read session's statement: either runs at once unless SQLite answers busy."""
        return _is_begin_immediate(args) or (self.reads_only and _short_reads.get())


def _is_begin_immediate(args: tuple[Any, ...]) -> bool:
    return bool(args) and str(args[0]).lstrip()[:15].upper() == 'BEGIN IMMEDIATE'


def _without_waiting(cursor: sqlite3.Cursor, *args: Any) -> sqlite3.Cursor | None:
    """The statement on the caller's thread if the database does not answer busy now, else None (then it runs on the
    connection's thread, waiting up to the busy timeout). For BEGIN IMMEDIATE: the write lock is free now (within one
    process it is handed over by `Database.write_lock`, so only another process's writer ever makes this None). For a
    short read: its snapshot is taken now (a WAL reader waits only while another connection recovers the WAL index)."""
    connection = cursor.connection
    connection.execute('PRAGMA busy_timeout=0')
    try:
        return cursor.execute(*args)
    except sqlite3.OperationalError as error:
        if error.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            raise
        return None
    finally:
        connection.execute(f'PRAGMA busy_timeout={BUSY_TIMEOUT_MS}')


class RollbackOnClose(sqlite3.Connection):
    """A connection that undoes its open transaction when it closes, so the write lock goes with it.

    A task cancelled mid-statement leaves its transaction open; SQLAlchemy then closes the invalidated connection
    without a rollback. sqlite3's close() (sqlite3_close_v2) leaves a connection whose statements are still alive (a
    cursor held by the cancelled task's traceback, a reference cycle) open as a zombie: its transaction, and the
    write lock, stay until the garbage collector frees those statements (rare here: app/gc_policy.py). Meanwhile
    every writer waited the whole busy timeout: 15 s at shutdown, then a thread answering a closed event loop."""

    def close(self) -> None:
        try:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed already: nothing is left to undo
                if self.in_transaction:
                    self.rollback()
        finally:
            super().close()


def _quick_connect(database: str, *, reads_only: bool = False, **kwargs: Any) -> QuickConnection:
    connector = partial(sqlite3.connect, database, factory=RollbackOnClose, **kwargs)
    connection = QuickConnection(connector, iter_chunk_size=64, reads_only=reads_only)
    connection._thread.daemon = True  # as SQLAlchemy's aiosqlite dialect does: a forgotten connection never hangs exit
    return connection


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, 'do_connect')
    def _on_do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        cparams['check_same_thread'] = False
        cparams['async_creator_fn'] = partial(_quick_connect, reads_only=begin != 'BEGIN IMMEDIATE')

    @event.listens_for(engine.sync_engine, 'connect')
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, 'begin')
    def _on_begin(connection: Any) -> None:
        driver = connection.connection.driver_connection
        if not (isinstance(driver, QuickConnection) and driver.begin_here(begin)):
            connection.exec_driver_sql(begin)

    dialect = engine.sync_engine.dialect
    for step, verb in SAVEPOINT_STEPS.items():
        setattr(dialect, step, _savepoint_step(getattr(dialect, step), verb))


SAVEPOINT_STEPS = {
    'do_savepoint': 'SAVEPOINT',
    'do_release_savepoint': 'RELEASE SAVEPOINT',
    'do_rollback_to_savepoint': 'ROLLBACK TO SAVEPOINT',
}


def _savepoint_step(through_sqlalchemy: Callable[[Any, str], None], verb: str) -> Callable[[Any, str], None]:
    """The dialect's savepoint step, run on the sqlite3 connection when it cannot wait (a write group's member:
    app/write_groups.py); through SQLAlchemy's statement path otherwise. The name is SQLAlchemy's own
    (sa_savepoint_N), never a caller's text."""

    def step(connection: Any, name: str) -> None:
        driver = connection.connection.driver_connection
        if not (isinstance(driver, QuickConnection) and driver.savepoint_here(f'{verb} {name}')):
            through_sqlalchemy(connection, name)

    return step


def ensure_sqlite_file(url: str) -> None:
    """Create a new SQLite database's folder (var/ on a fresh checkout) 0700 and its file 0600 (SQLite itself
    would use the umask, often 0644; its -wal and -shm files follow the database file's mode)."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != 'sqlite' or not database or database == ':memory:' or database.startswith('file:'):
        return
    path = Path(database)
    private_dir(path.parent)
    private_file(path)


class AuditHead:
    """The hash of the last audit row this Database wrote: the next row chains onto it without reading the head
    first; the INSERT checks in SQL that it still is the head (app.services.audit.record), so a stale one (another
    process wrote, a transaction rolled back) costs one more read, never a broken chain."""

    def __init__(self) -> None:
        self.hash = ''


class Database:
    """One engine and its session factory; `session()` yields an AsyncSession (expire_on_commit=False).

    `audit_key` (settings.key(Purpose.AUDIT)) goes to every session's `info`; see the module docstring.
    """

    def __init__(self, url: str, *, echo: bool = False, audit_key: bytes | None = None) -> None:
        self.url = url
        self.audit_key = audit_key
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == 'sqlite'
        kwargs: dict[str, Any] = {'echo': echo}
        if self.is_sqlite:
            ensure_sqlite_file(url)
            kwargs['connect_args'] = {'timeout': 15}
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine = create_async_engine(url, **kwargs)
        self.read_engine = create_async_engine(url, **kwargs) if self.is_sqlite else self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, begin='BEGIN IMMEDIATE')
            _configure_sqlite(self.read_engine, begin='BEGIN')
        info: dict[str, Any] = {AUDIT_KEY: audit_key, AUDIT_HEAD: AuditHead()} if audit_key else {}
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession, info=info)
        self._read_sessions = async_sessionmaker(
            self.read_engine, expire_on_commit=False, class_=AsyncSession, info=info
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._lock_wanted = 0  # tasks waiting in write_lock(): a write group closes for them
        self._info = info
        self.groups = (
            WriteGroups(self.engine, self._write_lock, others_waiting=lambda: self._lock_wanted > 0)
            if self._write_lock is not None
            else None
        )
        self._commits = CommitTimer()
        self.health = StorageHealth()
        self._checkpoints: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def session(self, *, short: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for work that may write (BEGIN IMMEDIATE on SQLite); a storage fault leaves it as
        StorageUnavailable (503, nothing written), and the first session that ends well clears it.

        `short`: a transaction of a few indexed statements (the queue's commands); on SQLite they run on the
        event loop's thread once the write lock is held (QuickConnection). Never for bulk work."""
        token = _short_writes.set(self._commits if short and self.is_sqlite else None)
        try:
            async with self._guarded(), self._opened(self._sessions, reads=False) as session:
                yield session
        finally:
            _short_writes.reset(token)
        self.health.stored()

    @asynccontextmanager
    async def grouped_write(self) -> AsyncIterator[tuple[AsyncSession, list[AfterCommit]]]:
        """A short write (the queue's commands) as a member of the open write group (SQLite only: see
        app/write_groups.py): its session, and the steps to run once its COMMIT is durable (its events). Leaving the
        block waits for that COMMIT; a storage fault in it is StorageUnavailable for every member of the group."""
        if self.groups is None:
            raise RuntimeError('write groups are for SQLite; PostgreSQL commits each transaction on its own')
        token = _short_writes.set(self._commits)  # copied into the group's committing task too: its COMMIT is short
        try:
            async with self._guarded(), self.groups.member(self._info) as joined:
                yield joined
        finally:
            _short_writes.reset(token)
        self.health.stored()

    @asynccontextmanager
    async def read_session(self, *, short: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it never waits for, nor holds, the SQLite write lock.

        `short`: point lookups by a unique key only (every bearer request's session check); on SQLite they run on the
        event loop's thread (QuickConnection), saving the two thread hops each. Never for a scan or a report."""
        token = _short_reads.set(short and self.is_sqlite)
        try:
            async with self._guarded(), self._opened(self._read_sessions, reads=True) as session:
                yield session
        finally:
            _short_reads.reset(token)

    @asynccontextmanager
    async def _opened(self, sessions: async_sessionmaker[AsyncSession], *, reads: bool) -> AsyncIterator[AsyncSession]:
        """A session, closed without SQLAlchemy's extra task where its close cannot suspend.

        SQLAlchemy 2.1's AsyncSession.__aexit__ runs close() in a task of its own, so that a cancellation cannot stop it
        halfway: two more turns of the loop for every session, each behind whatever else the loop has queued. On SQLite
        a close suspends only to roll back an open write transaction (on the connection's thread). A session whose
        transaction has ended (every unit of work commits or rolls back before) or a read session (its snapshot ends on
        the caller's thread, QuickConnection) closes without suspending, so nothing can interrupt it: closed directly.
        """
        session = sessions()
        try:
            yield session
        finally:
            if self.is_sqlite and (reads or not session.in_transaction()):
                await session.close()
            else:
                await session.__aexit__(None, None, None)

    @asynccontextmanager
    async def _guarded(self) -> AsyncIterator[None]:
        try:
            yield
        except DomainError:  # a refusal (this one's own, or a rule's) is never re-read as a storage fault
            raise
        except Exception as error:
            failure = classify(error)
            if failure is None:
                raise
            self.health.failed(failure)
            raise refusal(failure) from error

    @asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        self._lock_wanted += 1
        try:
            await self._write_lock.acquire()
        finally:
            self._lock_wanted -= 1
        try:
            yield
        finally:
            self._write_lock.release()

    async def checkpoint(self) -> tuple[int, int, int] | None:
        """Copy the WAL back into the database while a guard holds the write lock; (busy, wal frames, copied)."""
        if not self.is_sqlite:
            return None
        async with self.write_lock(), self._guarded(), self.engine.connect() as guard:
            await guard.begin()  # BEGIN IMMEDIATE: nobody commits, nor rewinds the WAL, until the rollback below
            async with self.read_engine.connect() as connection:
                raw = await connection.get_raw_connection()
                cursor = await raw.driver_connection.execute('PRAGMA wal_checkpoint(PASSIVE)')
                row = await cursor.fetchone()
                await cursor.close()
            await guard.rollback()
        return (int(row[0]), int(row[1]), int(row[2])) if row else None

    def start_checkpoints(self, every: float = CHECKPOINT_SECONDS) -> None:
        """Checkpoint every `every` seconds (SQLite only) until dispose()."""
        if self.is_sqlite and self._checkpoints is None:
            self._checkpoints = asyncio.get_running_loop().create_task(self._checkpoint_forever(every))

    async def _checkpoint_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.checkpoint()
            except Exception:
                log.exception('WAL checkpoint failed; the next round tries again')

    async def dispose(self) -> None:
        await tasks.stop(self._checkpoints)
        if self.groups is not None:
            await self.groups.drain()
        self._checkpoints = None
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
