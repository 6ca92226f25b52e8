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
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.security.files import private_dir, private_file

AUDIT_KEY = 'audit_key'  # Session.info entry: the key of the audit chain (app.services.audit)

SQLITE_PRAGMAS = (
    'PRAGMA journal_mode=WAL',
    'PRAGMA foreign_keys=ON',
    'PRAGMA busy_timeout=15000',
    'PRAGMA synchronous=FULL',
)


def _configure_sqlite(engine: AsyncEngine, *, begin: str) -> None:
    @event.listens_for(engine.sync_engine, 'connect')
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, 'begin')
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


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
        info = {AUDIT_KEY: audit_key} if audit_key else {}
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession, info=info)
        self._read_sessions = async_sessionmaker(
            self.read_engine, expire_on_commit=False, class_=AsyncSession, info=info
        )
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for work that may write (BEGIN IMMEDIATE on SQLite)."""
        async with self._sessions() as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: it never waits for, nor holds, the SQLite write lock."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write_lock(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
