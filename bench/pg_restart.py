"""A PostgreSQL restart under the running app: how long until it serves again, and what the outage cost.

    .venv/bin/python bench/pg_restart.py [--down 5] [--rate 10] [--cycles 3]

It starts a throw-away PostgreSQL server of its own (initdb in a temp folder, a free port: the shared
server on 5432 is never touched), migrates and fills a small hall, starts the real app (`python main.py`)
on it and takes tickets through the API at `--rate` a second. Each cycle stops the server (`pg_ctl stop
-m fast`, what a restart or failover does to open connections), keeps it down `--down` seconds, and
starts it again. Printed per cycle: the outage, the recovery time (from the server accepting connections
again to the app's first stored ticket), and what every request got (201 stored, 503 refused in words,
anything else: a fault). Finally every 201 is checked against the ticket table (nothing lost, nothing
half-written) and the app's process id against the one it started with (no restart).
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import shlex  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from tests.apphost import prepare_database, start_app  # noqa: E402
from tests.pgcluster import PgCluster  # noqa: E402
from tests.totp import token_body  # noqa: E402

BOSS = ('boss', 'Manager-01-pass')


@dataclass
class Load:
    """Tickets taken at a steady rate from a thread; each answer's status and time are kept."""

    base_url: str
    headers: dict[str, str]
    rate: float
    answers: list[tuple[float, int]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30.0) as client:
            while not self.stopping.is_set():
                started = time.monotonic()
                try:
                    status = client.post(
                        '/api/tickets', json={'service_code': 'SVC-A'}, headers=self.headers
                    ).status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((time.monotonic(), status))
                self.stopping.wait(max(0.0, 1 / self.rate - (time.monotonic() - started)))


def stored_tickets(url: str) -> int:
    async def run() -> int:
        connection = await asyncpg.connect(url.replace('+asyncpg', ''))
        try:
            return int(await connection.fetchval('SELECT count(*) FROM ticket'))
        finally:
            await connection.close()

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--down', type=float, default=5.0, help='seconds the server stays down per cycle')
    parser.add_argument('--rate', type=float, default=10.0, help='tickets a second offered')
    parser.add_argument('--cycles', type=int, default=3)
    args = parser.parse_args()
    print('command:', shlex.join([sys.executable, *sys.argv]))
    cluster = PgCluster().init()
    cluster.start()
    try:
        prepared = prepare_database(cluster.create_database('hall'))
        with tempfile.TemporaryDirectory(prefix='pg-restart-') as tmp, start_app(prepared.url, Path(tmp)) as app:
            pid = app.pid
            with app.client() as client:
                answer = token_body(client, *BOSS)  # the manager's second factor included
                headers = {'Authorization': f'Bearer {answer.json()["access_token"]}'}
            load = Load(app.base_url, headers, args.rate)
            worker = threading.Thread(target=load.run, daemon=True)
            worker.start()
            time.sleep(2)
            recoveries: list[float] = []
            for cycle in range(1, args.cycles + 1):
                stop_at = time.monotonic()
                cluster.stop('fast')
                time.sleep(args.down)
                cluster.start()
                up_at = time.monotonic()
                while not any(t > up_at and s == 201 for t, s in load.answers[-50:]):
                    if time.monotonic() - up_at > 120:
                        raise SystemExit('the app did not serve again within 120 s')
                    time.sleep(0.05)
                first = min(t for t, s in load.answers if t > up_at and s == 201)
                recoveries.append(first - up_at)
                during = Counter(s for t, s in load.answers if stop_at <= t <= first)
                print(
                    f'cycle {cycle}: server down {up_at - stop_at:.1f} s; first stored ticket {first - up_at:.2f} s '
                    f'after it accepted connections; answers meanwhile {dict(sorted(during.items()))}'
                )
                time.sleep(2)
            load.stopping.set()
            worker.join(timeout=40)
            statuses = Counter(s for _, s in load.answers)
            stored = stored_tickets(prepared.url)
            print(f'answers: {dict(sorted(statuses.items()))} (201 stored, 503 refused in words, others: faults)')
            each = [round(r, 2) for r in recoveries]
            print(f'recovery after the server is back: max {max(recoveries):.2f} s, each {each}')
            matches = 'OK' if stored == statuses[201] else 'MISMATCH'
            print(f'tickets stored {stored}, acknowledged {statuses[201]}: {matches}')
            same = 'same process, no restart' if pid == app.pid and app.running else 'RESTARTED'
            print(f'app process {pid} -> {app.pid}: {same}')
            faults = sum(n for s, n in statuses.items() if s not in (201, 503))
            return 0 if stored == statuses[201] and faults == 0 and pid == app.pid else 1
    finally:
        cluster.destroy()


if __name__ == '__main__':
    sys.exit(main())
