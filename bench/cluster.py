"""One hall as 1, 2 and 4 processes behind nginx: tickets and page fan-out through the proxy, and the scaling.

    .venv/bin/python bench/cluster.py [--processes 1,2,4] [--seconds 15] [--clients 8] [--pages 60] [--changes 15]

Per process count it builds the cluster the way scripts/cluster.py runs a hall (one PostgreSQL database
of the default seed on the local server, a redis-server of its own, N `python main.py` processes with
the same SECRET_KEY and REDIS_URL, Debian's nginx with sticky sessions in front), then:

- tickets: `--clients` browsers (each its own cookie jar, so nginx spreads them over the processes) take
  tickets through nginx's POST /api/tickets flat out for `--seconds`; printed: tickets/s, p50/p99, how
  the requests fell on the processes;
- fan-out: `--pages` manager pages (real NiceGUI pages and their socket.io sockets, through nginx; see
  bench/twin_clients.py) spread over the processes; `--changes` times a window's state changes through
  the API and the time until the LAST page has the floor-map patch is taken (p50/p99): a change made
  on one process reaches the pages of every other over the Redis stream.

Everything runs on this one machine (2 cores here): more processes add no cores, so the figures show
the cost of the proxy and of the cross-process stream, and on a machine with more cores, the scaling.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from app.models.people import Role  # noqa: E402
from bench.twin_clients import close_all, connect_many, machine, measure_changes, percentile  # noqa: E402
from scripts.cluster import NODE_COOKIE  # noqa: E402
from tests.apphost import NewUser  # noqa: E402
from tests.localcluster import LocalCluster  # noqa: E402
from tests.totp import token_body  # noqa: E402

MANAGER = NewUser('bench_manager', 'Bench-Manager-2026!', Role.MANAGER)
SERVICES = ['HUKOU-IN', 'SI-ENROLL', 'PENSION-CERT', 'TAX-INVOICE', 'BIZ-OPEN', 'RE-TRANSFER', 'HPF-WITHDRAW']
WINDOW_NUMBER = 14  # closed in the default seed
RESULTS = Path(_ROOT) / 'bench' / 'results' / 'cluster.json'


@dataclass(frozen=True)
class TicketFigures:
    per_second: float
    p50_ms: float
    p99_ms: float
    served_by: dict[str, int]
    faults: dict[int, int]


@dataclass(frozen=True)
class FanOutFigures:
    pages: int
    pages_per_process: dict[str, int]
    p50_ms: float
    p99_ms: float


async def take_tickets(base: str, headers: dict[str, str], clients: int, seconds: float) -> TicketFigures:
    """`clients` browsers taking tickets flat out; each answer's time and the process that served it."""
    latencies: list[float] = []
    served: Counter[str] = Counter()
    faults: Counter[int] = Counter()
    stop_at = time.perf_counter() + seconds

    async def browser(index: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30.0) as client:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                answer = await client.post('/api/tickets', json={'service_code': SERVICES[index % len(SERVICES)]})
                if answer.status_code == 201:
                    latencies.append((time.perf_counter() - started) * 1000)
                    served[answer.cookies.get(NODE_COOKIE, '?')] += 1
                else:
                    faults[answer.status_code] += 1

    began = time.perf_counter()
    await asyncio.gather(*(browser(i) for i in range(clients)))
    took = time.perf_counter() - began
    if not latencies:
        raise RuntimeError(f'no ticket was taken: {dict(faults)}')
    return TicketFigures(
        round(len(latencies) / took, 1),
        round(statistics.median(latencies), 1),
        round(percentile(latencies, 99), 1),
        dict(sorted(served.items())),
        dict(faults),
    )


async def fan_out(base: str, token: str, headers: dict[str, str], pages: int, changes: int) -> FanOutFigures:
    async with aiohttp.ClientSession(base_url=base, timeout=aiohttp.ClientTimeout(total=30)) as api:
        async with api.get('/api/hall') as response:
            hall = await response.json()
        window_id = next(w['id'] for w in hall['windows'] if w['number'] == WINDOW_NUMBER)
        clients = await connect_many(base, token, pages)
        try:
            spread = Counter(
                next((c.value for c in client.http.cookie_jar if c.key == NODE_COOKIE), '?')
                for client in clients
                if client.http is not None
            )
            await measure_changes(api, headers, clients, window_id, 3)  # warm-up
            latencies = await measure_changes(api, headers, clients, window_id, changes)
        finally:
            await close_all(clients)
    return FanOutFigures(
        pages, dict(sorted(spread.items())), round(statistics.median(latencies), 1), round(percentile(latencies, 99), 1)
    )


def run_one(count: int, args: argparse.Namespace) -> tuple[TicketFigures, FanOutFigures]:
    with (
        tempfile.TemporaryDirectory(prefix='bench-cluster-') as tmp,
        LocalCluster(Path(tmp), count, seed='default', users=[MANAGER]) as cluster,
    ):
        with cluster.client() as client:
            token = token_body(client, MANAGER.username, MANAGER.password).json()['access_token']
        headers = {'Authorization': f'Bearer {token}'}
        tickets = asyncio.run(take_tickets(cluster.base_url, headers, args.clients, args.seconds))
        pages = asyncio.run(fan_out(cluster.base_url, token, headers, args.pages, args.changes))
    return tickets, pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--processes', default='1,2,4', help='comma-separated process counts (default 1,2,4)')
    parser.add_argument('--seconds', type=float, default=15.0, help='seconds of ticket load per count')
    parser.add_argument('--clients', type=int, default=8, help='browsers taking tickets flat out')
    parser.add_argument('--pages', type=int, default=60, help='manager pages open for the fan-out')
    parser.add_argument('--changes', type=int, default=15, help='state changes timed for the fan-out')
    args = parser.parse_args()
    print('$', shlex.join(['.venv/bin/python', 'bench/cluster.py', *sys.argv[1:]]))
    print('machine:', machine())
    rates: dict[int, float] = {}
    runs: list[dict[str, object]] = []
    for count in (int(n) for n in args.processes.split(',') if n.strip()):
        tickets, pages = run_one(count, args)
        rates[count] = tickets.per_second
        runs.append({'processes': count, 'tickets': asdict(tickets), 'fan_out': asdict(pages)})
        print(
            f'{count} process(es): tickets {tickets.per_second}/s p50 {tickets.p50_ms} ms p99 {tickets.p99_ms} ms, '
            f'served by {tickets.served_by}, refused {tickets.faults} | {pages.pages} pages {pages.pages_per_process}: '
            f'a change reaches the last page p50 {pages.p50_ms} ms p99 {pages.p99_ms} ms',
            flush=True,
        )
    first = next(iter(rates))
    scaling = ', '.join(f'{count}: x{rate / rates[first]:.2f}' for count, rate in rates.items())
    print(f'tickets/s relative to {first} process(es): {scaling}')
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({'command': sys.argv, 'machine': machine(), 'runs': runs}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
