"""`python -m app.migrate`: bring the database to the newest schema, keeping every row.

The migration runs in a worker thread because Alembic's env starts its own event loop.
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

from alembic import command
from alembic.config import Config

from app.db import ensure_sqlite_file
from app.settings import ROOT, ConfigError, get_settings


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / 'alembic.ini'))
    config.attributes['url'] = url
    config.attributes['configure_logger'] = False
    return config


def upgrade(url: str) -> None:
    """Migrate to head; safe to call from inside a running event loop (it then uses a thread)."""
    ensure_sqlite_file(url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(alembic_config(url), 'head')
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, alembic_config(url), 'head').result()


async def upgrade_async(url: str) -> None:
    await asyncio.to_thread(upgrade, url)


def main() -> None:
    try:
        settings = get_settings()
    except ConfigError as error:
        sys.exit(str(error))
    upgrade(settings.db_url)
    print(f'数据库已是最新结构 / database schema is up to date ({settings.db_url.split("://")[0]})')


if __name__ == '__main__':
    main()
