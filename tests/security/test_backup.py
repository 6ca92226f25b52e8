"""SQLite backups: consistent while the app writes, checked before kept, and restored only when sound."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path

import pytest

from app import backup
from app.db import Database
from app.migrate import upgrade_async
from app.services import audit
from app.settings import ROOT
from tests.callers import deps_for
from tests.conftest import AUDIT_KEY
from tests.factories import build_small_hall

SECRET = 'test-secret-key-that-is-long-enough-0123456789'
PAGE = 4096


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database with the small hall and a few audit rows, like a running hall."""
    (tmp_path / 'data').mkdir()
    url = f'sqlite+aiosqlite:///{tmp_path / "data" / "halltwin.db"}'
    await upgrade_async(url)
    database = Database(url, audit_key=AUDIT_KEY)
    await build_small_hall(database)
    log = audit.AuditLog(deps_for(database))
    for n in range(5):
        await log.write(actor=f'w{n:02d}', role='staff', action=audit.LOGIN_OK)
    yield database
    await database.dispose()


def _db_file(db: Database) -> Path:
    return backup.sqlite_file(db.url)


def _dump(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return list(connection.iterdump())


def _count(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(f'SELECT count(*) FROM {table}').fetchone()[0]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def _backup(db: Database, target: Path) -> Path:
    return await asyncio.to_thread(backup.create_backup, db.url, target)


async def test_backup_while_the_app_writes_is_consistent(live: Database, tmp_path: Path) -> None:
    log = audit.AuditLog(deps_for(live))
    written = 0
    stop = asyncio.Event()

    async def keep_writing() -> None:
        nonlocal written
        while not stop.is_set():
            await log.write(actor='w01', role='staff', action=audit.REASSIGN, target=f'window:{written}')
            written += 1

    async def until(count: int) -> None:
        while written < count:
            await asyncio.sleep(0.005)

    writer = asyncio.create_task(keep_writing())
    await until(5)
    path = await _backup(live, tmp_path / 'backups' / 'b.db')
    before_stop = written
    await until(before_stop + 3)
    stop.set()
    await writer

    assert backup.integrity_problem(path) is None
    assert not Path(f'{path}-wal').exists() and not path.with_name(f'{path.name}.partial').exists()
    assert _count(path, 'hall') == 1 and _count(path, 'staff_user') == 2 and _count(path, 'window') == 4
    rows = _count(path, 'audit_entry')
    assert 5 + 5 <= rows <= 5 + before_stop < 5 + written
    copy = Database(f'sqlite+aiosqlite:///{path}', audit_key=AUDIT_KEY)
    try:
        result = await audit.verify(copy)
    finally:
        await copy.dispose()
    assert result.ok and result.rows == rows


async def test_backup_refuses_to_overwrite(live: Database, tmp_path: Path) -> None:
    target = tmp_path / 'existing.db'
    target.write_bytes(b'keep me')
    with pytest.raises(backup.BackupError, match='will not overwrite'):
        await _backup(live, target)
    assert target.read_bytes() == b'keep me'


def test_default_backup_path_is_timestamped_and_never_reused(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 28, 10, 5, 9)
    first = backup.default_backup_path(tmp_path, now)
    assert first == tmp_path / 'backups' / 'halltwin-20261128-100509.db'
    first.parent.mkdir()
    first.touch()
    assert backup.default_backup_path(tmp_path, now).name == 'halltwin-20261128-100509-1.db'


async def test_restore_brings_back_exactly_the_backed_up_rows(live: Database, tmp_path: Path) -> None:
    path = await _backup(live, tmp_path / 'b.db')
    log = audit.AuditLog(deps_for(live))
    for n in range(4):
        await log.write(actor='w02', role='staff', action=audit.EXPORT, target=f'after-backup:{n}')
    await live.dispose()  # the app is stopped before a restore
    db_file = _db_file(live)
    after_backup = _dump(db_file)

    kept = await asyncio.to_thread(backup.restore_backup, live.url, path)

    assert _dump(db_file) == _dump(path)
    assert kept is not None and kept.name.startswith('halltwin.db.before-restore-')
    assert _dump(kept) == after_backup
    assert sorted(p.name for p in db_file.parent.iterdir() if 'partial' in p.name) == []
    result = await audit.verify(live)
    assert result.ok and result.rows == 5


async def test_restore_is_refused_while_the_app_is_running(live: Database, tmp_path: Path) -> None:
    path = await _backup(live, tmp_path / 'b.db')
    await audit.AuditLog(deps_for(live)).write(
        actor='w01', role='staff', action=audit.EXPORT
    )  # connection open, in use
    db_file = _db_file(live)
    listing = sorted(p.name for p in db_file.parent.iterdir())
    with pytest.raises(backup.BackupError, match='running'):
        await asyncio.to_thread(backup.restore_backup, live.url, path)
    assert sorted(p.name for p in db_file.parent.iterdir()) == listing
    assert (await audit.verify(live)).rows == 6


def _garbage(path: Path, good: Path) -> None:
    path.write_bytes(os.urandom(8 * PAGE))


def _damaged(path: Path, good: Path) -> None:
    data = bytearray(good.read_bytes())
    data[2 * PAGE : 4 * PAGE] = b'\xab' * (2 * PAGE)
    path.write_bytes(bytes(data))


def _damaged_rows(path: Path, good: Path) -> None:
    """Scribble over the rows of one table: the file still opens, integrity_check reports the damage."""
    with closing(sqlite3.connect(good)) as connection:
        root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'window'").fetchone()[0]
    data = bytearray(good.read_bytes())
    data[root * PAGE - 96 : root * PAGE] = b'\x07' * 96
    path.write_bytes(bytes(data))


def _foreign(path: Path, good: Path) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute('CREATE TABLE notes (body TEXT)')
        connection.commit()


def _truncated(path: Path, good: Path) -> None:
    path.write_bytes(good.read_bytes()[: 3 * PAGE])


@pytest.mark.parametrize('spoil', [_garbage, _damaged, _damaged_rows, _foreign, _truncated])
async def test_restore_of_a_bad_file_is_refused_and_changes_nothing(
    live: Database, tmp_path: Path, spoil: Callable[[Path, Path], None]
) -> None:
    good = await _backup(live, tmp_path / 'good.db')
    bad = tmp_path / 'bad.db'
    spoil(bad, good)
    await live.dispose()
    db_file = _db_file(live)
    listing = sorted(p.name for p in db_file.parent.iterdir())
    digest = _digest(db_file)
    with pytest.raises(backup.BackupError, match='restore refused'):
        await asyncio.to_thread(backup.restore_backup, live.url, bad)
    assert sorted(p.name for p in db_file.parent.iterdir()) == listing
    assert _digest(db_file) == digest


async def test_restore_of_a_missing_file_is_refused(live: Database, tmp_path: Path) -> None:
    with pytest.raises(backup.BackupError, match='no such file'):
        await asyncio.to_thread(backup.restore_backup, live.url, tmp_path / 'nope.db')


async def test_backups_restored_and_kept_databases_are_readable_by_the_owner_only(
    live: Database, tmp_path: Path
) -> None:
    previous = os.umask(0o022)  # the usual umask: files would be 0644 unless created private
    try:
        target = await _backup(live, tmp_path / 'elsewhere' / 'copy.db')
        await live.dispose()
        kept = await asyncio.to_thread(backup.restore_backup, live.url, target)
    finally:
        os.umask(previous)
    assert kept is not None
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (target, _db_file(live), kept)}
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE((tmp_path / 'elsewhere').stat().st_mode) == 0o700


def test_postgres_commands_hide_the_password() -> None:
    url = 'postgresql+asyncpg://hall:s3cret@db.internal:5432/halltwin'
    dump = backup.postgres_commands(url, 'create', '/srv/b.dump')
    assert dump == ["pg_dump --format=custom --file='/srv/b.dump' 'postgresql://hall:***@db.internal:5432/halltwin'"]
    restore = backup.postgres_commands(url, 'restore', '/srv/b.dump')
    assert restore[0].startswith('pg_restore ') and restore[-1] == 'python -m app.migrate'
    assert 's3cret' not in ' '.join(dump + restore)


# --- the command line ------------------------------------------------------------------------------------------


async def _run_cli(url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ('PYTEST_CURRENT_TEST', 'DATABASE_URL')}
    env.update(DATABASE_URL=url, VAR_DIR=str(tmp_path / 'var'), SECRET_KEY=SECRET)
    command = [sys.executable, '-m', 'app.backup', *args]
    return await asyncio.to_thread(
        subprocess.run, command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


async def test_cli_create_then_restore(live: Database, tmp_path: Path) -> None:
    created = await _run_cli(live.url, tmp_path, 'create')
    assert created.returncode == 0, created.stderr
    backups = list((tmp_path / 'var' / 'backups').glob('halltwin-*.db'))
    assert len(backups) == 1 and str(backups[0]) in created.stdout
    assert f'{backups[0].stat().st_size:,} bytes' in created.stdout

    refused = await _run_cli(live.url, tmp_path, 'restore', str(backups[0]))
    assert refused.returncode == 1 and 'running' in refused.stderr

    await live.dispose()
    restored = await _run_cli(live.url, tmp_path, 'restore', str(backups[0]))
    assert restored.returncode == 0, restored.stderr
    assert 'before-restore' in restored.stdout
    assert _dump(_db_file(live)) == _dump(backups[0])


async def test_cli_refuses_a_corrupt_backup(live: Database, tmp_path: Path) -> None:
    bad = tmp_path / 'bad.db'
    bad.write_bytes(b'SQLite format 3\x00' + os.urandom(PAGE))
    await live.dispose()
    result = await _run_cli(live.url, tmp_path, 'restore', str(bad))
    assert result.returncode == 1 and 'restore refused' in result.stderr


async def test_cli_on_postgres_prints_the_tools_and_exits_2(tmp_path: Path) -> None:
    url = 'postgresql+asyncpg://hall:s3cret@127.0.0.1:5432/halltwin'
    for args in (('create',), ('restore', 'x.dump')):
        result = await _run_cli(url, tmp_path, *args)
        assert result.returncode == 2
        assert ('pg_dump' if args[0] == 'create' else 'pg_restore') in result.stdout
        assert 's3cret' not in result.stdout + result.stderr
