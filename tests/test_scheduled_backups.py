"""Scheduled backups: SQLite through the backup API, PostgreSQL through pg_dump; each copied to the second
location, and only the newest BACKUP_KEEP kept in each place."""

from __future__ import annotations

import datetime as dt
import stat
import subprocess
from pathlib import Path

import pytest

from app import jobs
from app.backup import backups_in, integrity_problem, scheduled_backup
from app.migrate import upgrade_async
from app.settings import Settings
from tests.dbs import PostgresDatabase


def settings_for(url: str, tmp_path: Path, **extra: str) -> Settings:
    return Settings(
        DATABASE_URL=url,
        VAR_DIR=str(tmp_path / 'var'),
        BACKUP_MIRROR_DIR=str(tmp_path / 'mirror'),
        BACKUP_KEEP='2',
        **extra,
    )


async def test_sqlite_backups_reach_both_places_and_only_the_newest_are_kept(tmp_path: Path) -> None:
    url = f'sqlite+aiosqlite:///{tmp_path / "hall.db"}'
    await upgrade_async(url)
    settings = settings_for(url, tmp_path)
    start = dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC)
    made = [scheduled_backup(settings, start + dt.timedelta(minutes=n)) for n in range(3)]
    kept, mirrored = backups_in(settings.backups), backups_in(tmp_path / 'mirror')
    assert [p.name for p in kept] == [p.name for p in made[1:]] == [p.name for p in mirrored]
    for path in [*kept, *mirrored]:
        assert integrity_problem(path) is None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert kept[-1].read_bytes() == mirrored[-1].read_bytes()
    assert not list((tmp_path / 'mirror').glob('*.partial'))


@pytest.mark.postgres
async def test_postgres_backups_are_pg_dumps_that_pg_restore_can_read(
    tmp_path: Path, postgres: PostgresDatabase
) -> None:
    settings = settings_for(postgres.url, tmp_path)
    await upgrade_async(postgres.url)
    dump = scheduled_backup(settings)
    assert dump.suffix == '.dump' and (tmp_path / 'mirror' / dump.name).is_file()
    listing = subprocess.run(['pg_restore', '--list', str(dump)], capture_output=True, text=True, check=True).stdout
    assert 'TABLE public ticket' in listing


def test_backups_are_scheduled_every_configured_minutes_and_not_at_every_start(tmp_path: Path) -> None:
    periodic = {p.name: p for p in jobs.app_periodic(settings_for('', tmp_path, BACKUP_EVERY_MINUTES='15'))}
    assert periodic['backup_database'].every_seconds == 900 and periodic['backup_database'].first_after == 900
    assert 'backup_database' not in {
        p.name for p in jobs.app_periodic(settings_for('', tmp_path, BACKUP_EVERY_MINUTES='0'))
    }
    with pytest.raises(ValueError):
        settings_for('', tmp_path, BACKUP_EVERY_MINUTES='7')
