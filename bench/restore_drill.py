"""Restore drill: lose the hall's machine, restore the latest scheduled backup from the second location into a
fresh place, serve again, and print how long that took (RTO) and what was lost (RPO).

    .venv/bin/python bench/restore_drill.py [--every 1] [--rate 2] [--after 10]

It prepares a small SQLite hall in a temp folder and starts the real app (`python main.py`) with scheduled
backups every `--every` minutes (BACKUP_EVERY_MINUTES), BACKUP_DIR and a second location BACKUP_MIRROR_DIR,
and takes tickets through the API at `--rate` a second. Once the first scheduled backup has reached the
mirror, the load goes on `--after` seconds; then the disaster: the app is killed (SIGKILL) and its database
deleted with its folder. The clock starts: the newest backup in the mirror is restored with
`app.backup.restore_backup` (integrity check, migrate) into a new folder, the app is started on it, and the
clock stops when GET /api/hall answers and one more ticket is stored. Printed: RTO (restore + start, the
time a person needs to notice and decide comes on top), RPO (the backup's age at the disaster, and the
acknowledged tickets missing from the restored database), and the check that the restored tickets are
exactly those acknowledged before the backup (none half-written).
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from contextlib import closing  # noqa: E402
from pathlib import Path  # noqa: E402

import httpx  # noqa: E402

from app.backup import backups_in, restore_backup  # noqa: E402
from tests.apphost import prepare_database, sqlite_url, start_app  # noqa: E402
from tests.totp import token_body  # noqa: E402

BOSS = {'username': 'boss', 'password': 'Manager-01-pass'}


def login(client: httpx.Client) -> dict[str, str]:
    answer = token_body(client, BOSS['username'], BOSS['password'])  # the manager's second factor included
    answer.raise_for_status()
    return {'Authorization': f'Bearer {answer.json()["access_token"]}'}


def ticket_codes(db_file: Path) -> set[str]:
    with closing(sqlite3.connect(f'file:{db_file}?mode=ro', uri=True)) as db:
        return {row[0] for row in db.execute('SELECT code FROM ticket')}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--every', type=int, default=1, help='BACKUP_EVERY_MINUTES (a divisor of 60)')
    parser.add_argument('--rate', type=float, default=2.0, help='tickets a second taken before the disaster')
    parser.add_argument('--after', type=float, default=10.0, help='seconds of load after the first backup')
    args = parser.parse_args()
    print('command:', shlex.join([sys.executable, *sys.argv]))
    with tempfile.TemporaryDirectory(prefix='restore-drill-') as tmp_name:
        tmp = Path(tmp_name)
        live_file, mirror = tmp / 'live' / 'hall.db', tmp / 'mirror'
        live_file.parent.mkdir()
        prepared = prepare_database(sqlite_url(live_file))
        env = {
            'BACKUP_EVERY_MINUTES': str(args.every),
            'BACKUP_DIR': str(tmp / 'live' / 'backups'),
            'BACKUP_MIRROR_DIR': str(mirror),
            'BACKUP_KEEP': '3',
        }
        acknowledged: list[tuple[float, str]] = []
        app = start_app(prepared.url, tmp / 'app', env)
        stop = threading.Event()

        def load() -> None:
            with app.client() as client:
                headers = login(client)
                while not stop.is_set():
                    answer = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=headers)
                    if answer.status_code == 201:
                        acknowledged.append((time.time(), answer.json()['code']))
                    stop.wait(1 / args.rate)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        deadline = time.monotonic() + args.every * 60 + 60
        while not backups_in(mirror):
            if time.monotonic() > deadline:
                print(app.output())
                raise SystemExit('no scheduled backup reached the mirror in time')
            time.sleep(0.5)
        backup_made = backups_in(mirror)[-1].stat().st_mtime
        time.sleep(args.after)
        stop.set()
        worker.join(timeout=30)
        disaster = time.time()
        app.kill_hard()
        shutil.rmtree(live_file.parent)  # the machine and its disk are gone; the mirror is elsewhere
        print(
            f'before the disaster: {len(acknowledged)} tickets acknowledged; the newest backup in the mirror is '
            f'{disaster - backup_made:.1f} s old'
        )

        started = time.monotonic()
        latest = backups_in(mirror)[-1]
        restored = tmp / 'restored' / 'hall.db'
        restore_backup(sqlite_url(restored), latest)
        restored_at = time.monotonic()
        again = start_app(sqlite_url(restored), tmp / 'app2')
        try:
            with again.client() as client:
                assert client.get('/api/hall').status_code == 200
                stored = client.post('/api/tickets', json={'service_code': 'SVC-A'}, headers=login(client))
                assert stored.status_code == 201, stored.text
            serving = time.monotonic()
        finally:
            again.stop()
        codes = ticket_codes(restored) - {stored.json()['code']}
        acked = [code for _, code in acknowledged]
        lost = [code for code in acked if code not in codes]
        before_backup = {code for at, code in acknowledged if at <= backup_made - 1.0}  # the snapshot precedes the file
        print(
            f'restore (check, copy, migrate): {restored_at - started:.2f} s; start and first stored ticket: '
            f'{serving - restored_at:.2f} s'
        )
        print(f'RTO {serving - started:.2f} s (from the restore command to a stored ticket; noticing comes on top)')
        print(
            f'RPO {disaster - backup_made:.1f} s of work: {len(lost)} of {len(acked)} acknowledged tickets lost '
            f'(at most BACKUP_EVERY_MINUTES={args.every} min of work)'
        )
        consistent = before_backup <= codes and codes <= set(acked)
        print(
            f'restored tickets: {len(codes)}; all acknowledged before the backup present and nothing unknown: '
            f'{"OK" if consistent else "MISMATCH"}'
        )
        return 0 if consistent else 1


if __name__ == '__main__':
    sys.exit(main())
