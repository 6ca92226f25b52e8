"""Tickets through the public HTTP API against the number already waiting: does a take cost the same at 1,000 as at 0?

    .venv/bin/python bench/api_load.py [--levels 0,100,300,1000] [--takes 240] [--rate 100] [--profile]

It prepares one throw-away SQLite hall from the default seed (25 windows, 20 services) with a bench manager
account, and for every waiting level starts the real app (`python main.py`) on a fresh copy of it: SQLite
with the app's own pragmas (WAL, synchronous=FULL), the simulated device fleet connected over websockets
(DEVICE_MODE=simulated), the twin, its feed, alerts and jobs running, and one manager page open (a GET of
/manager and a socket.io client on that page, acknowledging like nicegui.js). Then, all through HTTP:

* fill: tickets taken through POST /api/tickets (8 clients, spread evenly over every service) until LEVEL wait;
* sequential: `--rounds` rounds of take -> call-next -> complete at one open window after another (the level
  stays put): the cost of one operation of each kind, p50/p99, and the app's CPU per operation;
* offered: takes started at `--rate` a second (open loop; latency counted from each scheduled start, so falling
  behind shows) for `--seconds`, while window staff call and complete at `--staff-rate` a second;
* flat out: 8 kiosk clients take `--takes` tickets as fast as they are answered, staff as above: tickets/s.

The app's CPU comes from /proc (utime+stime of its process); its idle share (devices, feeds) is measured for
`--idle` seconds first and taken off the sequential phase's CPU per operation. `--profile` runs the app under
cProfile and prints where its time went (the `.prof` files stay in bench/results/); profiled figures are
slower, so compare them only with each other. Per level it checks that every answered take is stored and
that no number was given twice, and how fast the shared host ran just before and after (a fixed Python loop's
CPU time): runs on a slower moment show it, so compare runs by ratio.
Targets (issue 20): take/call/complete within 30% between 0 and 1,000 waiting; >= 225 tickets/s flat out;
p99 <= 50 ms at 100 tickets/s offered. Results: printed and written to bench/results/api_load.json.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import shlex  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402
import httpx  # noqa: E402

from app.models.people import Role  # noqa: E402
from bench.twin_clients import ManagerClient, percentile, proc_cpu_seconds  # noqa: E402
from tests.apphost import AppProcess, NewUser, prepare_database, sqlite_url  # noqa: E402
from tests.midday import midday_zone  # noqa: E402
from tests.totp import token_body  # noqa: E402

MANAGER = ('bench_manager', 'Bench-Manager-2026!')
KIOSKS = 8
RESULTS = Path(_ROOT) / 'bench' / 'results' / 'api_load.json'
TARGET_SPREAD = 0.30
TARGET_TICKETS_PER_S = 225.0
TARGET_OFFERED_P99_MS = 50.0
KINDS = ('take', 'call', 'complete')


class ProfiledApp(AppProcess):
    """The app under cProfile (CPU time of its event loop's thread), writing the profile when it stops."""

    def __init__(self, *args: Any, profile: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile = profile

    def command(self) -> list[str]:
        # The server re-raises SIGTERM once it has shut down: here it becomes a normal exit that runs atexit.
        script = (
            'import atexit, cProfile, runpy, signal, sys, time\n'
            'signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))\n'
            'profile = cProfile.Profile(time.thread_time)\n'  # CPU of the loop's thread: GIL waits are no cost
            f'atexit.register(lambda: (profile.disable(), profile.dump_stats({str(self.profile)!r})))\n'
            f'sys.argv = [{str(Path(_ROOT) / "main.py")!r}]\n'
            'profile.enable()\n'
            'runpy.run_path(sys.argv[0], run_name="__main__")\n'
        )
        return [sys.executable, '-c', script]


@dataclass
class Hall:
    services: list[str]
    pairs: list[tuple[str, int]]  # (the main service of an open window, that window's id)
    windows: list[int]  # the open windows


@dataclass
class Recorder:
    """Latencies (ms) per kind of request, and the answers that were not a success."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    refused: Counter[str] = field(default_factory=Counter)
    taken: list[str] = field(default_factory=list)  # the numbers answered to takes
    client_cpu_share: float = 0.0  # this client process's CPU over the phase, as a share of one core

    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.refused.values())


class Api:
    def __init__(self, session: aiohttp.ClientSession, recorder: Recorder) -> None:
        self.session = session
        self.recorder = recorder

    async def _post(self, kind: str, path: str, body: dict[str, Any] | None, ok: int, since: float | None) -> bool:
        started = time.perf_counter() if since is None else since
        try:
            async with self.session.post(path, json=body) as response:
                payload = await response.read()
                done = time.perf_counter()
                if response.status != ok:
                    self.recorder.refused[f'{kind} {response.status}'] += 1
                    return False
        except aiohttp.ClientConnectionError:  # counted, not retried: a take must not be sent twice
            self.recorder.refused[f'{kind} connection lost'] += 1
            return False
        self.recorder.latencies[kind].append((done - started) * 1000)
        if kind == 'take':
            self.recorder.taken.append(json.loads(payload)['number'])
        return True

    async def take(self, service: str, *, since: float | None = None) -> bool:
        return await self._post('take', '/api/tickets', {'service_code': service, 'channel': 'kiosk'}, 201, since)

    async def call(self, window: int) -> bool:
        return await self._post('call', f'/api/windows/{window}/call-next', None, 200, None)

    async def complete(self, window: int) -> bool:
        return await self._post('complete', f'/api/windows/{window}/complete', None, 200, None)


async def read_hall(session: aiohttp.ClientSession) -> tuple[Hall, int]:
    async with session.get('/api/hall') as response:
        hall = await response.json()
    open_windows = [w for w in hall['windows'] if w['state'] == 'open' and w['services']]
    pairs = [(w['services'][0], w['id']) for w in open_windows]
    waiting = sum(s['waiting'] for s in hall['services'])
    return Hall([s['code'] for s in hall['services']], pairs, [w['id'] for w in open_windows]), waiting


async def fill(api: Api, hall: Hall, count: int) -> None:
    """Take `count` tickets with KIOSKS clients at once, round-robin over every service."""
    counter = iter(range(count))

    async def kiosk() -> None:
        for i in counter:
            await api.take(hall.services[i % len(hall.services)])

    await asyncio.gather(*(kiosk() for _ in range(KIOSKS)))


async def staff(api: Api, hall: Hall, rate: float, stop: asyncio.Event) -> None:
    """Window staff: every 1/rate s the next open window completes its citizen and calls the next one."""
    turn = 0
    next_at = time.perf_counter()
    while not stop.is_set() and rate > 0:
        window = hall.windows[turn % len(hall.windows)]
        turn += 1
        await api.complete(window)
        await api.call(window)
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))


def summary(recorder: Recorder, cpu: float, seconds: float) -> dict[str, Any]:
    kinds = {}
    for kind in KINDS:
        values = recorder.latencies.get(kind, [])
        if values:
            kinds[kind] = {
                'n': len(values),
                'p50_ms': round(statistics.median(values), 2),
                'p99_ms': round(percentile(values, 99), 2),
                'max_ms': round(max(values), 2),
            }
    requests = recorder.requests()
    return {
        'seconds': round(seconds, 2),
        'kinds': kinds,
        'refused': dict(recorder.refused),
        'requests': requests,
        'app_cpu_ms_per_request': round(cpu * 1000 / requests, 2) if requests else None,
        'app_cpu_share': round(cpu / seconds, 2) if seconds else None,
        'client_cpu_share': round(recorder.client_cpu_share, 2),
    }


async def phase(pid: int, body: Any) -> tuple[Recorder, float, float]:
    """Run `body(recorder)` and return the recorder, the app's CPU seconds and the wall seconds it took; the
    recorder also keeps this client process's own share of a core (flat out, a client at ~100% caps the rate)."""
    recorder = Recorder()
    cpu0, own0, wall0 = proc_cpu_seconds(pid), proc_cpu_seconds(os.getpid()), time.perf_counter()
    await body(recorder)
    seconds = time.perf_counter() - wall0
    recorder.client_cpu_share = (proc_cpu_seconds(os.getpid()) - own0) / seconds if seconds else 0.0
    return recorder, proc_cpu_seconds(pid) - cpu0, seconds


async def run_level(args: argparse.Namespace, app: AppProcess, token: str, level: int) -> dict[str, Any]:
    pid = app.pid or 0
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2.0)  # closed before the server's 5 s idle limit
    session = aiohttp.ClientSession(
        base_url=app.base_url,
        connector=connector,
        headers={'authorization': f'Bearer {token}'},
        timeout=aiohttp.ClientTimeout(total=60),
    )
    manager = ManagerClient(app.base_url, token)
    result: dict[str, Any] = {'level': level}
    numbers: list[str] = []
    try:
        await manager.open()
        hall, waiting = await read_hall(session)
        started = time.perf_counter()
        filler = Recorder()
        await fill(Api(session, filler), hall, max(0, level - waiting))
        numbers += filler.taken
        _, waiting = await read_hall(session)
        result['fill'] = {'seconds': round(time.perf_counter() - started, 1), 'waiting': waiting}
        await asyncio.sleep(1.0)  # the feed's KPI refresh after activity, then quiet
        cpu0, wall0 = proc_cpu_seconds(pid), time.perf_counter()
        await asyncio.sleep(args.idle)
        idle = (proc_cpu_seconds(pid) - cpu0) / (time.perf_counter() - wall0)
        result['idle_cpu_share'] = round(idle, 3)

        async def sequential(recorder: Recorder) -> None:
            api = Api(session, recorder)
            for i in range(args.rounds):
                service, window = hall.pairs[i % len(hall.pairs)]
                await api.take(service)
                await api.call(window)
                await api.complete(window)

        recorder, cpu, seconds = await phase(pid, sequential)
        numbers += recorder.taken
        result['sequential'] = summary(recorder, cpu, seconds)
        result['sequential']['app_cpu_ms_per_op'] = result['sequential'].pop('app_cpu_ms_per_request')
        ops = recorder.requests()
        result['sequential']['app_cpu_ms_per_op_net'] = round(max(0.0, cpu - idle * seconds) * 1000 / max(1, ops), 2)
        _, result['sequential']['waiting_after'] = await read_hall(session)

        async def offered(recorder: Recorder) -> None:
            api = Api(session, recorder)
            stop = asyncio.Event()
            desk = asyncio.get_running_loop().create_task(staff(api, hall, args.staff_rate, stop))
            t0 = time.perf_counter() + 0.05
            takes = []
            for i in range(int(args.rate * args.seconds)):
                at = t0 + i / args.rate
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                service = hall.services[i % len(hall.services)]
                takes.append(asyncio.get_running_loop().create_task(api.take(service, since=at)))
            await asyncio.gather(*takes)
            stop.set()
            await desk

        recorder, cpu, seconds = await phase(pid, offered)
        numbers += recorder.taken
        result['offered'] = summary(recorder, cpu, seconds) | {'rate': args.rate}
        _, result['offered']['waiting_after'] = await read_hall(session)

        async def flat_out(recorder: Recorder) -> None:
            api = Api(session, recorder)
            stop = asyncio.Event()
            desk = asyncio.get_running_loop().create_task(staff(api, hall, args.staff_rate, stop))
            counter = iter(range(args.takes))

            async def kiosk() -> None:
                for i in counter:
                    await api.take(hall.services[i % len(hall.services)])

            await asyncio.gather(*(kiosk() for _ in range(KIOSKS)))
            stop.set()
            await desk

        recorder, cpu, seconds = await phase(pid, flat_out)
        numbers += recorder.taken
        flat = summary(recorder, cpu, seconds)
        flat['tickets_per_s'] = round(len(recorder.latencies.get('take', [])) / seconds, 1)
        flat['app_cpu_ms_per_ticket'] = round(cpu * 1000 / max(1, len(recorder.latencies.get('take', []))), 2)
        _, flat['waiting_after'] = await read_hall(session)
        result['flat'] = flat
    finally:
        await manager.close()
        await session.close()
    result['answered_takes'] = numbers
    return result


def integrity(db_file: Path, numbers: list[str]) -> dict[str, Any]:
    """Every answered take is stored, and no number was given twice on a day."""
    with sqlite3.connect(db_file) as con:
        dupes = con.execute(
            'SELECT COUNT(*) FROM (SELECT hall_id, day, number FROM ticket GROUP BY 1, 2, 3 HAVING COUNT(*) > 1)'
        ).fetchone()[0]
        stored = {row[0] for row in con.execute('SELECT number FROM ticket WHERE day = (SELECT MAX(day) FROM ticket)')}
    missing = [n for n in numbers if n not in stored]
    return {'answered': len(numbers), 'missing': len(missing), 'duplicate_numbers': dupes}


def print_level(r: dict[str, Any]) -> None:
    print(f'\n== waiting {r["level"]} (filled in {r["fill"]["seconds"]} s, {r["fill"]["waiting"]} waiting) ==')
    for name in ('sequential', 'offered', 'flat'):
        p = r[name]
        kinds = '  '.join(
            f'{k} p50 {v["p50_ms"]:6.1f} p99 {v["p99_ms"]:6.1f} ms (n {v["n"]})' for k, v in p['kinds'].items()
        )
        extra = ''
        if name == 'sequential':
            extra = (
                f'app CPU {p["app_cpu_ms_per_op"]} ms/op, {p["app_cpu_ms_per_op_net"]} ms/op above its idle '
                f'{100 * r["idle_cpu_share"]:.0f}% of a core'
            )
        elif name == 'offered':
            extra = f'{p["rate"]:.0f} takes/s offered; app CPU {p["app_cpu_ms_per_request"]} ms/request'
        else:
            extra = (
                f'{p["tickets_per_s"]} tickets/s; app CPU {p["app_cpu_ms_per_ticket"]} ms/ticket, '
                f'{p["app_cpu_ms_per_request"]} ms/request; app {100 * p["app_cpu_share"]:.0f}% and these clients '
                f'{100 * p["client_cpu_share"]:.0f}% of a core'
            )
        refused = f' refused {p["refused"]}' if p['refused'] else ''
        print(f'  {name:<10} {kinds}\n             {extra}; waiting after {p["waiting_after"]}{refused}')
    print(f'  integrity: {r["integrity"]}')
    before, after = r['reference_ms']
    print(f'  host speed: a fixed Python loop took {before} ms before this level, {after} ms after (more = slower)')


def verdict(levels: list[dict[str, Any]]) -> list[str]:
    lines = []
    low, high = levels[0], levels[-1]
    for kind in KINDS:
        a = low['sequential']['kinds'].get(kind, {}).get('p50_ms')
        b = high['sequential']['kinds'].get(kind, {}).get('p50_ms')
        if a and b:
            ok = b <= a * (1 + TARGET_SPREAD)
            lines.append(
                f'{"PASS" if ok else "FAIL"} {kind} p50 {a} ms at {low["level"]} -> {b} ms at {high["level"]} waiting '
                f'({100 * (b / a - 1):+.0f}%, target within +{100 * TARGET_SPREAD:.0f}%)'
            )
    a, b = low['sequential']['app_cpu_ms_per_op_net'], high['sequential']['app_cpu_ms_per_op_net']
    lines.append(f'     app CPU per operation above idle {a} ms at {low["level"]} -> {b} ms at {high["level"]} waiting')
    best = max(r['flat']['tickets_per_s'] for r in levels)
    worst = min(r['flat']['tickets_per_s'] for r in levels)
    ok = worst >= TARGET_TICKETS_PER_S
    lines.append(f'{"PASS" if ok else "FAIL"} flat out {worst}-{best} tickets/s (target >= {TARGET_TICKETS_PER_S:.0f})')
    p99 = max(r['offered']['kinds'].get('take', {}).get('p99_ms', float('inf')) for r in levels)
    ok = p99 <= TARGET_OFFERED_P99_MS
    lines.append(f'{"PASS" if ok else "FAIL"} worst take p99 at the offered rate {p99} ms (target <= 50 ms)')
    return lines


def top_profile(path: Path, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats('cumulative').print_stats(f'{_ROOT}/(app|twin|components|pages)/', limit)  # before strip_dirs
    stats.strip_dirs().sort_stats('tottime').print_stats(limit)
    text = out.getvalue()
    return text[text.find('   ncalls') :] if '   ncalls' in text else text


def machine() -> dict[str, Any]:
    revision = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=_ROOT)
    return {
        'cpus': os.cpu_count(),
        'load_average': [round(v, 2) for v in os.getloadavg()],
        'python': platform.python_version(),
        'sqlite': sqlite3.sqlite_version,
        'git': revision.stdout.strip(),
    }


def reference_ms(steps: int = 2_000_000) -> float:
    """CPU ms of a fixed pure-Python loop in this (otherwise idle) process: how fast the shared host ran just then.

    The same app's figures move by up to 2x between runs here as the host's load changes; a level whose reference
    took longer ran on a slower machine, so compare runs by their ratio, not by the raw tickets/s."""
    started = time.process_time()
    total = 0
    for step in range(steps):
        total += step & 7
    return round((time.process_time() - started) * 1000, 1)


def run_app(args: argparse.Namespace, base: Path, level: int) -> dict[str, Any]:
    folder = base / f'level-{level}'
    folder.mkdir()
    for name in ('hall.db', 'hall.db-wal', 'hall.db-shm'):
        if (base / name).exists():
            shutil.copy(base / name, folder / name)
    env = {'DEVICE_MODE': 'simulated', 'HALL_SIMULATION': 'off', 'HALL_TIMEZONE': midday_zone()}
    kwargs: dict[str, Any] = {'extra_env': env, 'start_timeout': 300}  # a busy shared machine starts slowly
    profile = RESULTS.with_name(f'api_load-{level}.prof')
    profile.parent.mkdir(parents=True, exist_ok=True)  # the profiled app writes there when it stops
    app = (
        ProfiledApp(sqlite_url(folder / 'hall.db'), folder, profile=profile, **kwargs)
        if args.profile
        else AppProcess(sqlite_url(folder / 'hall.db'), folder, **kwargs)
    )
    reference = [reference_ms()]
    app.start()
    try:
        with httpx.Client(base_url=app.base_url, timeout=30) as client:
            response = token_body(client, *MANAGER)  # the manager's second factor included
            response.raise_for_status()
            token = response.json()['access_token']
        time.sleep(args.settle)  # the device fleet connects and the first health reports settle
        result = asyncio.run(run_level(args, app, token, level))
    except BaseException:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.with_name('api_load-app.log').write_text(app.output(2_000_000))
        print('the app log is in bench/results/api_load-app.log', file=sys.stderr)
        raise
    finally:
        app.stop(timeout=60)
    reference.append(reference_ms())
    result['reference_ms'] = reference
    result['integrity'] = integrity(folder / 'hall.db', result.pop('answered_takes'))
    if args.profile:
        result['profile'] = str(profile.relative_to(_ROOT))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--levels', default='0,100,300,1000', help='people waiting before each run (comma-separated)')
    parser.add_argument('--rounds', type=int, default=60, help='sequential take/call/complete rounds (default 60)')
    parser.add_argument('--takes', type=int, default=240, help='tickets taken flat out per level (default 240)')
    parser.add_argument('--rate', type=float, default=100.0, help='takes offered per second (default 100)')
    parser.add_argument('--seconds', type=float, default=3.0, help='length of the offered-load phase (default 3)')
    parser.add_argument('--staff-rate', type=float, default=5.0, help='window calls (+completes) a second (default 5)')
    parser.add_argument('--settle', type=float, default=5.0, help='seconds between start-up and the first request')
    parser.add_argument('--idle', type=float, default=3.0, help='seconds the idle app CPU is measured (default 3)')
    parser.add_argument('--dir', help='folder for the SQLite files (default: a temp folder on disk)')
    parser.add_argument('--profile', action='store_true', help='run the app under cProfile and print the top entries')
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(',') if n.strip()]
    command = shlex.join(['.venv/bin/python', 'bench/api_load.py', *sys.argv[1:]])
    print(f'$ {command}')
    print(f'machine: {machine()}', flush=True)
    with tempfile.TemporaryDirectory(prefix='halltwin-api-load-', dir=args.dir) as tmp:
        base = Path(tmp)
        started = time.perf_counter()
        prepare_database(
            sqlite_url(base / 'hall.db'), seed='default', users=[NewUser(MANAGER[0], MANAGER[1], Role.MANAGER)]
        )
        print(f'hall prepared (default seed) in {time.perf_counter() - started:.0f} s', flush=True)
        results = []
        for level in levels:
            result = run_app(args, base, level)
            print_level(result)
            if args.profile:
                print(f'\n-- where the app spent its time at {level} waiting ({result["profile"]}) --')
                print(top_profile(Path(_ROOT) / result['profile'], 25), flush=True)
            results.append(result)
    targets = verdict(results)
    print('\n' + '\n'.join(targets))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {'command': command, 'machine': machine(), 'levels': results, 'targets': targets}
    RESULTS.write_text(json.dumps(payload, indent=2, ensure_ascii=False))
    print(f'written to {RESULTS.relative_to(_ROOT)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
