"""`python -m app.backup create [PATH]` and `python -m app.backup restore PATH [--force]` for SQLite.

Why the sqlite3 backup API and not `cp`: a file copy taken while the app writes can hold half a
transaction and misses whatever still sits in the -wal file. The backup API copies one consistent
snapshot while the app keeps writing (WAL readers do not block writers). Every backup is checked with
`PRAGMA integrity_check` before it is kept, and again before it is restored.

Restore: stop the app first. Restore refuses while another connection has the database open (it
tries to leave WAL mode, which SQLite allows only to the sole connection); `--force` skips that check,
and the app must then be restarted. The current database is kept as `<db>.before-restore-<ts>`.

Every file written here (backups, the restored database, the kept old one) is created 0600, like the
database itself (app/security/files.py): a backup is the whole hall's data.

PostgreSQL: use its own tools; both commands print the pg_dump / pg_restore lines and exit 2.

Scheduled backups (`scheduled_backup`, run by app/jobs.py every BACKUP_EVERY_MINUTES): SQLite through the
backup API as above, PostgreSQL through `pg_dump --format=custom`; each new file is copied to
BACKUP_MIRROR_DIR (the second location: another disk or a mounted share) and only the newest BACKUP_KEEP
are kept in each place. `python -m app.backup latest` names the newest one (bench/restore_drill.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from app.clock import utcnow
from app.migrate import upgrade
from app.security.files import private_dir, private_file
from app.settings import ConfigError, Settings, get_settings

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_POSTGRES = 2
STAMP = '%Y%m%d-%H%M%S'
_SIDE_FILES = ('-wal', '-shm', '-journal')


class BackupError(Exception):
    """A refusal: the message is the one line shown to the operator; nothing was changed."""


def sqlite_file(db_url: str) -> Path:
    """The database file behind a sqlite URL (backups of in-memory or PostgreSQL databases make no sense here)."""
    url = make_url(db_url)
    if url.get_backend_name() != 'sqlite' or not url.database or url.database == ':memory:':
        raise BackupError(f'不是SQLite数据库文件 / not a SQLite database file: {url.render_as_string()}')
    return Path(url.database)


def _unique(path: Path) -> Path:
    """Never overwrite: two backups in the same second get -1, -2 suffixes."""
    candidate, n = path, 0
    while candidate.exists():
        n += 1
        candidate = path.with_name(f'{path.stem}-{n}{path.suffix}')
    return candidate


def default_backup_path(var_dir: Path, now: datetime) -> Path:
    return _unique(var_dir / 'backups' / f'halltwin-{now.strftime(STAMP)}.db')


def _connect_existing(path: Path, timeout: float = 15.0) -> sqlite3.Connection:
    """Open without creating: connecting to a missing path would make an empty database."""
    return sqlite3.connect(f'file:{path}?mode=rw', uri=True, timeout=timeout)


def integrity_problem(path: Path) -> str | None:
    """Why a file cannot be trusted as a HallTwin database, or None when it passes integrity_check."""
    if not path.is_file():
        return f'没有这个文件 / no such file: {path}'
    try:
        with closing(_connect_existing(path)) as connection:
            result = [row[0] for row in connection.execute('PRAGMA integrity_check').fetchall()]
            tables = connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone()
    except sqlite3.DatabaseError as error:
        return f'无法读取 / unreadable SQLite file: {error}'
    if result != ['ok']:
        found = '; '.join(str(line).replace('\n', ' ') for line in result[:3])
        return f'完整性检查失败 / integrity_check failed: {found}'
    if tables is None:
        return '不是HallTwin数据库 / not a HallTwin database (no alembic_version table)'
    return None


def _snapshot(source: Path, target: Path) -> None:
    """Copy one consistent snapshot (including what is still in the -wal) into a self-contained file (0600)."""
    private_file(target)
    with closing(_connect_existing(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)
        dst.execute('PRAGMA journal_mode=DELETE')


def _remove_with_side_files(path: Path) -> None:
    for name in (str(path), *(f'{path}{suffix}' for suffix in _SIDE_FILES)):
        Path(name).unlink(missing_ok=True)


def _private_copy(source: Path | str, target: Path | str) -> None:
    """Copy a file into a new file that only its owner may read (shutil alone would use the umask)."""
    private_file(Path(target))
    shutil.copyfile(source, target)


def create_backup(db_url: str, target: Path) -> Path:
    """Back up the live database to `target` (refusing to overwrite), verified before it is kept."""
    source = sqlite_file(db_url)
    if not source.is_file():
        raise BackupError(f'没有数据库 / no database at {source}')
    if target.exists():
        raise BackupError(f'文件已存在 / will not overwrite {target}')
    private_dir(target.parent)
    partial = target.with_name(f'{target.name}.partial')
    _remove_with_side_files(partial)  # left by a crash, perhaps with another mode
    try:
        _snapshot(source, partial)
        if problem := integrity_problem(partial):
            raise BackupError(f'备份未通过检查 / backup failed its check: {problem}')
        os.replace(partial, target)
    finally:
        _remove_with_side_files(partial)
    return target


def app_is_running(db_path: Path) -> bool:
    """True while another connection has the database open: only the sole connection may leave WAL mode."""
    if not db_path.is_file():
        return False
    try:
        with closing(_connect_existing(db_path, timeout=0.5)) as connection:
            connection.isolation_level = None
            mode = connection.execute('PRAGMA journal_mode=DELETE').fetchone()[0]
            connection.execute('PRAGMA journal_mode=WAL')
    except sqlite3.OperationalError:
        return True
    return mode != 'delete'


def _stage(source: Path, db_path: Path, stamp: str) -> Path:
    """Copy the backup next to the database (same file system, so the final swap is one rename) and check it."""
    if not source.is_file():
        raise BackupError(f'没有这个文件 / no such file: {source}')
    if Path(f'{source}-wal').exists():
        raise BackupError(f'备份旁有-wal文件 / {source} has a -wal file beside it: not a closed backup')
    private_dir(db_path.parent)
    staged = db_path.with_name(f'{db_path.name}.restore-{stamp}.partial')
    _remove_with_side_files(staged)
    _private_copy(source, staged)
    if problem := integrity_problem(staged):
        _remove_with_side_files(staged)
        raise BackupError(f'拒绝恢复 / restore refused: {problem}')
    return staged


def _keep_current(db_path: Path, stamp: str) -> Path:
    """Keep the database being replaced; if it is too damaged to snapshot, keep its files as they are."""
    kept = _unique(db_path.with_name(f'{db_path.name}.before-restore-{stamp}'))
    try:
        _snapshot(db_path, kept)
    except sqlite3.DatabaseError:
        _remove_with_side_files(kept)
        for suffix in ('', '-wal'):
            if Path(f'{db_path}{suffix}').is_file():
                _private_copy(f'{db_path}{suffix}', f'{kept}{suffix}')
    return kept


def restore_backup(db_url: str, source: Path, *, force: bool = False, now: datetime | None = None) -> Path | None:
    """Put a checked backup in place of the database and migrate it forward; returns the kept old database."""
    db_path = sqlite_file(db_url)
    stamp = (now or datetime.now().astimezone()).strftime(STAMP)
    staged = _stage(source, db_path, stamp)
    try:
        if not force and app_is_running(db_path):
            raise BackupError('应用似乎正在运行 / the app appears to be running: stop it first (or pass --force)')
        kept = _keep_current(db_path, stamp) if db_path.is_file() else None
        for suffix in _SIDE_FILES:  # a stale -wal would be replayed onto the restored file
            Path(f'{db_path}{suffix}').unlink(missing_ok=True)
        os.replace(staged, db_path)
    finally:
        _remove_with_side_files(staged)
    upgrade(db_url)
    return kept


BACKUP_PATTERNS = ('halltwin-*.db', 'halltwin-*.dump')


def backups_in(folder: Path) -> list[Path]:
    """The finished backups in a folder, oldest first (the timestamp in the name orders them)."""
    if not folder.is_dir():
        return []
    found = {path for pattern in BACKUP_PATTERNS for path in folder.glob(pattern) if path.is_file()}
    return sorted(found, key=lambda path: (path.stat().st_mtime, path.name))


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups; returns what was deleted."""
    doomed = backups_in(folder)[:-keep] if keep > 0 else []
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def pg_dump(db_url: str, target: Path) -> Path:
    """`pg_dump --format=custom` into `target` (0600); the password goes through PGPASSWORD, never argv."""
    url = make_url(db_url)
    env = {**os.environ, **({'PGPASSWORD': url.password} if url.password else {})}
    plain = url.set(drivername='postgresql', password=None).render_as_string(hide_password=False)
    private_dir(target.parent)
    partial = target.with_name(f'{target.name}.partial')
    private_file(partial)
    try:
        subprocess.run(
            ['pg_dump', '--format=custom', f'--file={partial}', plain], env=env, check=True, capture_output=True
        )
        os.replace(partial, target)
    except subprocess.CalledProcessError as error:
        raise BackupError(f'pg_dump 失败 / pg_dump failed: {error.stderr.decode(errors="replace").strip()}') from error
    finally:
        partial.unlink(missing_ok=True)
    return target


def scheduled_backup(settings: Settings, now: datetime | None = None) -> Path:
    """One backup (SQLite backup API or pg_dump), copied to the mirror, both places pruned to BACKUP_KEEP."""
    stamp = (now or utcnow().astimezone(settings.tz)).strftime(STAMP)
    if settings.is_sqlite:
        target = create_backup(settings.db_url, _unique(settings.backups / f'halltwin-{stamp}.db'))
    else:
        target = pg_dump(settings.db_url, _unique(settings.backups / f'halltwin-{stamp}.dump'))
    prune(settings.backups, settings.backup_keep)
    if settings.backup_mirror_dir:
        mirror = Path(settings.backup_mirror_dir)
        private_dir(mirror)
        partial = mirror / f'{target.name}.partial'
        _private_copy(target, partial)
        os.replace(partial, mirror / target.name)
        prune(mirror, settings.backup_keep)
    return target


def postgres_commands(db_url: str, command: str, path: str) -> list[str]:
    """The pg_dump / pg_restore lines for this database (password hidden: set PGPASSWORD)."""
    url = make_url(db_url).set(drivername='postgresql').render_as_string(hide_password=True)
    if command == 'create':
        return [f"pg_dump --format=custom --file='{path}' '{url}'"]
    return [f"pg_restore --clean --if-exists --no-owner --dbname='{url}' '{path}'", 'python -m app.migrate']


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m app.backup', description='HallTwin SQLite backup and restore')
    commands = parser.add_subparsers(dest='command', required=True)
    create = commands.add_parser('create', help='online, consistent backup (default var/backups/halltwin-<ts>.db)')
    create.add_argument('path', nargs='?', type=Path)
    restore = commands.add_parser('restore', help='replace the database with a checked backup (stop the app first)')
    restore.add_argument('path', type=Path)
    restore.add_argument('--force', action='store_true', help='skip the "app is running" check')
    latest = commands.add_parser('latest', help='print the newest backup (BACKUP_DIR, or the folder given)')
    latest.add_argument('folder', nargs='?', type=Path)
    return parser


def _run(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.command == 'latest':
        found = backups_in(args.folder or settings.backups)
        if not found:
            raise BackupError(f'没有备份 / no backup in {args.folder or settings.backups}')
        print(found[-1])
        return EXIT_OK
    if not settings.is_sqlite:
        print('PostgreSQL：请使用其自带工具 / PostgreSQL: use its own tools (set PGPASSWORD):')
        path = str(args.path or f'halltwin-{utcnow().strftime(STAMP)}.dump')
        print('\n'.join(f'  {line}' for line in postgres_commands(settings.db_url, args.command, path)))
        return EXIT_POSTGRES
    now = utcnow().astimezone(settings.tz)
    if args.command == 'create':
        target = create_backup(settings.db_url, args.path or default_backup_path(settings.var_dir, now))
        print(f'备份完成 / backup written: {target} ({target.stat().st_size:,} bytes)')
        return EXIT_OK
    kept = restore_backup(settings.db_url, args.path, force=args.force, now=now)
    print(f'恢复完成 / restored {args.path} into {sqlite_file(settings.db_url)}')
    if kept:
        print(f'原数据库已保留 / previous database kept as {kept}')
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit code (0 done, 1 refused, 2 PostgreSQL: use pg_dump/pg_restore)."""
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (BackupError, ConfigError) as error:
        print(error, file=sys.stderr)
        return EXIT_REFUSED


if __name__ == '__main__':
    sys.exit(main())
