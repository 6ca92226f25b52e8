"""A full disk under the running app, on a real small file system (a 6 MB tmpfs; skipped where this process
may not mount one): every ticket is either stored (201) or refused in words (503 `storage_full`), never a
bare 500; a refused one leaves nothing behind; the manager is warned before and alerted during; freeing
space is all it takes to serve again."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.apphost import prepare_database, sqlite_url, start_app
from tests.security.routes import assert_error, bearer, token
from tests.tmpfs import small_tmpfs

BOSS = ('boss', 'Manager-01-pass')


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path) as mount:
        yield mount


def fill(folder: Path) -> Path:
    """Write until the file system says ENOSPC."""
    filler = folder / 'filler'
    with contextlib.suppress(OSError), filler.open('wb') as out:
        while True:
            out.write(b'\0' * 65536)
            out.flush()
    return filler


def ticket_count(db_file: Path) -> int:
    with closing(sqlite3.connect(f'file:{db_file}?mode=ro', uri=True, timeout=30)) as db:
        return int(db.execute('SELECT count(*) FROM ticket').fetchone()[0])


def test_a_full_disk_refuses_tickets_in_words_keeps_nothing_alerts_and_recovers_without_restart(
    tmp_path: Path, small_fs: Path
) -> None:
    db_file = small_fs / 'hall.db'
    prepared = prepare_database(sqlite_url(db_file))
    env = {'DISK_MIN_FREE_MB': '3', 'DISK_CHECK_SECONDS': '0.5'}
    with start_app(prepared.url, tmp_path / 'app', env) as app, app.client() as client:
        desk = bearer(token(client, BOSS))
        assert client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk).status_code == 201
        filler = fill(small_fs)
        stored, refused = 1, None
        for _ in range(400):
            answer = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk)
            assert answer.status_code in (201, 503), answer.text  # never a bare 500
            if answer.status_code == 503:
                refused = answer
                break
            stored += 1
        assert refused is not None, 'the full file system never refused a write'
        body = assert_error(refused, 503, 'storage_full')
        assert '工作人员' in body['message'] and refused.headers['retry-after']
        assert ticket_count(db_file) == stored  # the refused ticket left nothing
        deadline = time.monotonic() + 10
        while 'storage:storage_full' not in app.output() or 'disk_low:database' not in app.output():
            assert time.monotonic() < deadline, app.output()
            time.sleep(0.2)

        filler.unlink()  # the operator frees space; nobody restarts anything
        again = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=desk)
        assert again.status_code == 201, again.text
        assert ticket_count(db_file) == stored + 1
        assert client.get('/api/hall').status_code == 200
        assert 'in the WAL-reset bug range' in app.output() or 'has the WAL-reset fix' in app.output()
