"""Test databases: a migrated SQLite template copied per test, and one PostgreSQL database per run."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
from alembic import command
from sqlalchemy import text

from app.db import Database
from app.migrate import alembic_config, upgrade

PG_ADMIN_DSN = os.environ.get('HALLTWIN_PG_DSN', 'postgresql://postgres@127.0.0.1:5432/test')


class SqliteTemplate:
    def __init__(self, directory: Path) -> None:
        self.path = directory / 'template.db'
        self._ready = False

    def copy_to(self, target: Path) -> str:
        if not self._ready:
            upgrade(f'sqlite+aiosqlite:///{self.path}')
            self._ready = True
        shutil.copyfile(self.path, target)
        return f'sqlite+aiosqlite:///{target}'


class PostgresDatabase:
    """A throw-away database on the local server, migrated once; tables are emptied per test."""

    def __init__(self) -> None:
        self.name = f'halltwin_{uuid.uuid4().hex[:10]}'
        base = PG_ADMIN_DSN.rsplit('/', 1)[0]
        self.url = f'postgresql+asyncpg://{base.split("://", 1)[1]}/{self.name}'

    async def _admin(self, sql: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    def _admin_in_thread(self, sql: str) -> None:
        """Session fixtures may be set up from inside a running loop: use a fresh one in a thread."""
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, self._admin(sql)).result()

    def create(self, revision: str = 'head') -> None:
        """Create the database and migrate it to `revision` (an older one lets a test see a migration run)."""
        self._admin_in_thread(f'CREATE DATABASE {self.name}')
        with ThreadPoolExecutor(max_workers=1) as pool:  # Alembic's env runs its own event loop
            pool.submit(command.upgrade, alembic_config(self.url), revision).result()

    def drop(self) -> None:
        self._admin_in_thread(f'DROP DATABASE IF EXISTS {self.name} WITH (FORCE)')

    async def truncate(self, db: Database) -> None:
        async with db.engine.begin() as connection:
            tables = (
                (
                    await connection.execute(
                        text(
                            'SELECT tablename FROM pg_tables '
                            "WHERE schemaname='public' AND tablename <> 'alembic_version'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            quoted = ', '.join(f'"{name}"' for name in tables)
            await connection.execute(text(f'TRUNCATE {quoted} RESTART IDENTITY CASCADE'))
