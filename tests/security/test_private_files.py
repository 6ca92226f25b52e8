"""The hall's data on disk is readable by its owner only: a fresh var/ as the real app and the backup command leave it.

SQLite and shutil would create files with the umask (0644 under the usual 022: every local account could
copy the database, its -wal, a backup or the generated SECRET_KEY). The test runs the real app and
`python -m app.backup create` under that usual umask and looks at what they wrote.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from app.settings import ROOT
from tests.apphost import prepare_database, sqlite_url, start_app


@contextmanager
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_fresh_var_holds_database_secret_and_backups_readable_by_the_owner_only(tmp_path: Path) -> None:
    var = tmp_path / 'var'
    database = var / 'halltwin.db'
    env = {'SECRET_KEY': '', 'VAR_DIR': str(var)}  # no SECRET_KEY: the app generates var/secret_key
    with usual_umask():
        prepared = prepare_database(sqlite_url(database))
        with start_app(prepared.url, tmp_path, env) as app, app.client() as client:
            assert client.post('/api/tickets', json={'service_code': 'SVC-A'}).status_code == 201
            backup_env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}
            backup_env.update(env, DATABASE_URL=prepared.url)
            created = subprocess.run(
                [sys.executable, '-m', 'app.backup', 'create'],
                cwd=ROOT,
                env=backup_env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert created.returncode == 0, created.stderr
            files = {path.relative_to(var).as_posix(): mode(path) for path in var.rglob('*') if path.is_file()}
    backups = [name for name in files if name.startswith('backups/')]
    assert len(backups) == 1, files
    assert {'halltwin.db', 'halltwin.db-wal', 'halltwin.db-shm', 'secret_key'} <= set(files)
    assert files == dict.fromkeys(files, 0o600)
    assert mode(var) == 0o700 and mode(var / 'backups') == 0o700
