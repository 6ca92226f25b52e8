"""Queue engine benchmark: take / call / complete through the real QueueService, durable commits.

    .venv/bin/python bench/queue_throughput.py [--ops N] [--db sqlite|postgres|both] [--clients 8] [--rate 100]

Per database it builds a hall (10 open windows, 3 services) in a throw-away database (a SQLite
file in a temp dir with the app's own pragmas: WAL, synchronous=FULL, BEGIN IMMEDIATE; or a
PostgreSQL database `halltwin_bench_<random>` created on the test server and dropped at the end),
migrates it with app.migrate, queues a backlog, then runs the same hall-like mix three times:

* sequential: one client, one operation at a time (latency);
* concurrent: --clients clients flat out, each staffing its own windows (throughput);
* paced: operations started at --rate per second across the windows, latency counted from each
  operation's scheduled start (latency at the target load).

Each window repeats complete -> call_next -> one citizen takes a number, so the mix is a third
each of take_ticket (a third of those with a valid resident ID number), call_next and complete,
and the backlog and the number of busy windows stay constant. Figures are printed and written to
bench/results/queue-<db>.json; --profile adds an instrumented run (SQL statements per operation,
time in the read-back after each write) and a cProfile run. See bench/README.md.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if __name__ == '__main__':
    # As a script, Python puts bench/ first on sys.path, where this file would shadow the standard
    # library's `queue` module (imported by asyncio); put the repository root there instead.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import cProfile  # noqa: E402
import datetime as dt  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import random  # noqa: E402
import secrets  # noqa: E402
import shlex  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import aiosqlite  # noqa: E402
import asyncpg  # noqa: E402
import sqlalchemy  # noqa: E402
from sqlalchemy import event, func, insert, text  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402
from sqlmodel import select  # noqa: E402
from stdnum.cn import ric  # noqa: E402
from stdnum.exceptions import ValidationError  # noqa: E402

from app.bus import InProcessBus  # noqa: E402
from app.clock import utcnow  # noqa: E402
from app.db import SQLITE_PRAGMAS, Database  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.models import (  # noqa: E402
    AuditEntry,
    Channel,
    Department,
    Hall,
    ServiceItem,
    Ticket,
    TicketCreate,
    TicketEvent,
    TicketStatus,
    Window,
    WindowService,
    WindowState,
    Zone,
)
from app.models.people import Role  # noqa: E402
from app.security.crypto import FieldCipher  # noqa: E402
from app.security.keys import Purpose  # noqa: E402
from app.services import audit  # noqa: E402
from app.services.deps import Deps  # noqa: E402
from app.services.errors import DomainError  # noqa: E402
from app.services.eta_refresh import EtaRefresher  # noqa: E402
from app.services.limits import build_limits  # noqa: E402
from app.services.principal import Kind, Principal  # noqa: E402
from app.services.queue import QueueService  # noqa: E402
from app.settings import Settings, load_settings  # noqa: E402

DESK = Principal(Kind.STAFF, 'bench', Role.MANAGER)  # the clerks of the benchmark: every window, any ticket
RESULTS_DIR = Path(_HERE) / 'results'
PG_ADMIN_DSN = os.environ.get('HALLTWIN_PG_DSN', 'postgresql://postgres@127.0.0.1:5432/test')

SQLITE_TARGET_OPS_PER_S = 250.0  # issue 14 item 2: flat out with 8 clients
SQLITE_TARGET_OFFERED = 100.0  # ... p99 <= 20 ms at this many ops/s offered
SQLITE_TARGET_P99_MS = 20.0
SQLITE_TARGET_CPU_MS = 3.0  # ... and <= 3 ms of CPU per operation

KINDS = ('take_ticket', 'take_ticket+id', 'call_next', 'complete')

# (code, name, ticket prefix, average handling minutes, share of citizens who come for it)
SERVICES = (
    ('HUJI', '户籍办理', 'A', 8.0, 0.45),
    ('SHEBAO', '社保业务', 'B', 6.0, 0.35),
    ('BUDONGCHAN', '不动产登记', 'C', 15.0, 0.20),
)
# window number -> ({service code: tier}, open?): 1 = the window's main service, 2 and 3 = fallbacks
# ("综合窗口": every open window can take any service, so a window idles only when nobody waits)
WINDOWS: dict[int, tuple[dict[str, int], bool]] = {
    **{n: ({'HUJI': 1, 'SHEBAO': 2, 'BUDONGCHAN': 3}, True) for n in range(1, 6)},
    **{n: ({'SHEBAO': 1, 'HUJI': 2, 'BUDONGCHAN': 3}, True) for n in range(6, 9)},
    **{n: ({'BUDONGCHAN': 1, 'HUJI': 2, 'SHEBAO': 3}, True) for n in range(9, 11)},
    **{n: ({'BUDONGCHAN': 1}, False) for n in range(11, 13)},
}
ID_REGIONS = ('110101', '110105', '110108', '310101', '310104', '440106', '330102', '510104', '420102', '120101')


# ---- the hall and its citizens ------------------------------------------------------------------


@dataclass(frozen=True)
class BenchHall:
    hall_id: int
    open_windows: list[int]
    closed_windows: list[int]
    service_ids: dict[str, int]


async def build_hall(db: Database) -> BenchHall:
    async with db.session() as s, s.begin():
        hall = Hall(code='bench', name='基准测试政务服务大厅')
        dept = Department(code='BENCH', name='基准测试局')
        s.add_all([hall, dept])
        await s.flush()
        zone = Zone(hall_id=hall.id, code='general', name='综合受理区', width=1000, height=400)
        services = {
            code: ServiceItem(
                code=code, name=name, ticket_prefix=prefix, department_id=dept.id, avg_handling_minutes=minutes
            )
            for code, name, prefix, minutes, _share in SERVICES
        }
        s.add(zone)
        s.add_all(services.values())
        await s.flush()
        windows = {
            number: Window(
                hall_id=hall.id,
                zone_id=zone.id,
                number=number,
                name=f'{number}号窗口',
                x=80 * number,
                y=100,
                state=WindowState.OPEN if is_open else WindowState.CLOSED,
            )
            for number, (_tiers, is_open) in WINDOWS.items()
        }
        s.add_all(windows.values())
        await s.flush()
        s.add_all(
            WindowService(window_id=windows[number].id, service_id=services[code].id, priority=tier)
            for number, (tiers, _open) in WINDOWS.items()
            for code, tier in tiers.items()
        )
    return BenchHall(
        hall_id=hall.id,
        open_windows=[windows[n].id for n, (_t, is_open) in WINDOWS.items() if is_open],
        closed_windows=[windows[n].id for n, (_t, is_open) in WINDOWS.items() if not is_open],
        service_ids={code: svc.id for code, svc in services.items()},
    )


async def add_history(db: Database, hall: BenchHall, tickets: int, days: int, rng: random.Random) -> None:
    """Completed tickets spread over the previous `days` days (live_state looks back seven days)."""
    if tickets <= 0:
        return
    now = utcnow()
    rows = []
    numbers: Counter[tuple[int, str]] = Counter()
    for i in range(tickets):
        days_ago = 1 + i % days
        code, _name, prefix, minutes, _share = rng.choices(SERVICES, weights=[s[4] for s in SERVICES])[0]
        numbers[(days_ago, prefix)] += 1
        taken = now - dt.timedelta(days=days_ago, minutes=rng.uniform(0, 480))
        called = taken + dt.timedelta(minutes=rng.uniform(1, 40))
        rows.append(
            {
                'hall_id': hall.hall_id,
                'service_id': hall.service_ids[code],
                'day': (now - dt.timedelta(days=days_ago)).date(),
                'number': f'{prefix}{numbers[(days_ago, prefix)]:03d}',
                'code': secrets.token_urlsafe(16),
                'status': TicketStatus.COMPLETED,
                'channel': Channel.KIOSK,
                'taken_at': taken,
                'queued_at': taken,
                'called_at': called,
                'first_called_at': called,
                'completed_at': called + dt.timedelta(minutes=rng.expovariate(1 / minutes)),
                'window_id': rng.choice(hall.open_windows),
            }
        )
    async with db.session() as s, s.begin():
        for start in range(0, len(rows), 1000):
            await s.execute(insert(Ticket), rows[start : start + 1000])


class Citizens:
    """Valid synthetic resident ID numbers (GB 11643 check digit from python-stdnum); some come twice."""

    def __init__(self, rng: random.Random, size: int) -> None:
        self.numbers: list[str] = []
        while len(self.numbers) < size:
            birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 66))
            body = f'{rng.choice(ID_REGIONS)}{birth:%Y%m%d}{rng.randrange(1000):03d}'
            number = body + ric.calc_check_digit(body + '0')
            try:
                ric.validate(number)
                ric.get_birth_place(number)
            except ValidationError:  # region code not valid in that birth year
                continue
            self.numbers.append(number)

    def request(self, rng: random.Random) -> tuple[str, TicketCreate]:
        code = rng.choices(SERVICES, weights=[s[4] for s in SERVICES])[0][0]
        if rng.random() < 1 / 3:
            return 'take_ticket+id', TicketCreate(
                service_code=code, channel=Channel.ID_CARD, id_number=rng.choice(self.numbers)
            )
        return 'take_ticket', TicketCreate(service_code=code, channel=Channel.KIOSK)  # mobile: a citizen's own


# ---- measuring ----------------------------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float('nan')
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def summary(seconds: list[float]) -> dict[str, Any]:
    values = sorted(v * 1000 for v in seconds)
    if not values:
        return {'n': 0}
    return {
        'n': len(values),
        'mean': round(sum(values) / len(values), 3),
        'p50': round(percentile(values, 0.50), 3),
        'p95': round(percentile(values, 0.95), 3),
        'p99': round(percentile(values, 0.99), 3),
        'max': round(values[-1], 3),
    }


class Recorder:
    """Latency of every successful operation by kind; failures counted by kind and error code."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.current_kind = ''

    async def timed(self, kind: str, operation: Awaitable[Any], *, since: float | None = None) -> bool:
        """Await one operation; its latency runs from `since` (the paced phase's scheduled start) or from now."""
        self.current_kind = kind
        start = time.perf_counter() if since is None else since
        try:
            await operation
        except DomainError as error:
            self.errors[f'{kind}: {error.code}'] += 1
            return False
        except SQLAlchemyError as error:
            cause = getattr(error, 'orig', None) or error
            self.errors[f'{kind}: {type(error).__name__}: {str(cause)[:80]}'] += 1
            return False
        finally:
            self.current_kind = ''
        self.samples[kind].append(time.perf_counter() - start)
        return True

    @property
    def successes(self) -> int:
        return sum(len(v) for v in self.samples.values())


async def staff_windows(
    queue: QueueService,
    windows: list[int],
    busy: dict[int, bool],
    ops: int,
    rng: random.Random,
    citizens: Citizens,
    recorder: Recorder,
    schedule: Callable[[int], float] | None = None,
) -> None:
    """One client: at each of its windows in turn, complete, call the next, and let a citizen take a number.

    Without a schedule it goes as fast as it can (closed loop). With one, operation k starts at
    schedule(k) (or at once if it is already late) and its latency counts from schedule(k), so time
    spent behind schedule is not hidden (no coordinated omission).
    """
    done = turn = 0
    while done < ops:
        window = windows[turn % len(windows)]
        turn += 1
        for step in ('complete', 'call_next', 'take'):
            if done >= ops:
                break
            if (step == 'complete' and not busy[window]) or (step == 'call_next' and busy[window]):
                continue
            since = None
            if schedule is not None:
                since = schedule(done)
                delay = since - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            if step == 'complete':
                if await recorder.timed('complete', queue.complete(window, caller=DESK), since=since):
                    busy[window] = False
            elif step == 'call_next':
                if await recorder.timed('call_next', queue.call_next(window, caller=DESK), since=since):
                    busy[window] = True
            else:
                kind, request = citizens.request(rng)
                await recorder.timed(kind, queue.take_ticket(request, caller=DESK), since=since)
            done += 1


@dataclass
class Phase:
    name: str
    clients: int
    ops_attempted: int
    wall_s: float
    recorder: Recorder
    main_thread_cpu_s: float = 0.0
    process_cpu_s: float = 0.0
    offered_rate: float | None = None

    def to_json(self) -> dict[str, Any]:
        everything = [v for kind in KINDS for v in self.recorder.samples.get(kind, [])]
        return {
            'clients': self.clients,
            'offered_ops_per_s': self.offered_rate,
            'ops_attempted': self.ops_attempted,
            'ops_ok': self.recorder.successes,
            'errors': dict(self.recorder.errors),
            'wall_s': round(self.wall_s, 3),
            # CPU seconds used meanwhile by the event-loop thread / by the whole process (incl. aiosqlite threads)
            'main_thread_cpu_s': round(self.main_thread_cpu_s, 3),
            'process_cpu_s': round(self.process_cpu_s, 3),
            'ops_per_s': round(self.recorder.successes / self.wall_s, 1) if self.wall_s else None,
            # the steadiest figure on a shared machine: event-loop CPU per operation caps ops/s at 1000 / this
            'main_thread_cpu_ms_per_op': round(1000 * self.main_thread_cpu_s / max(1, self.recorder.successes), 3),
            'latency_ms': {
                'overall': summary(everything),
                **{kind: summary(self.recorder.samples[kind]) for kind in KINDS if kind in self.recorder.samples},
            },
        }


async def run_phase(
    name: str,
    queue: QueueService,
    hall: BenchHall,
    busy: dict[int, bool],
    citizens: Citizens,
    *,
    ops: int,
    clients: int,
    seed: int,
    recorder: Recorder | None = None,
    rate: float | None = None,
) -> Phase:
    """`clients` clients share the open windows; with `rate`, they start operations at that total rate."""
    clients = max(1, min(clients, len(hall.open_windows)))
    order = list(hall.open_windows)
    random.Random(seed).shuffle(order)
    groups = [order[i::clients] for i in range(clients)]
    shares = [ops // clients + (1 if i < ops % clients else 0) for i in range(clients)]
    recorder = recorder or Recorder()
    start, thread_cpu, process_cpu = time.perf_counter(), time.thread_time(), time.process_time()

    def schedule_of(client: int) -> Callable[[int], float] | None:
        if not rate:
            return None
        return lambda k: start + 0.005 + (client + k * clients) / rate

    await asyncio.gather(
        *(
            staff_windows(queue, group, busy, share, random.Random(seed * 1000 + i), citizens, recorder, schedule_of(i))
            for i, (group, share) in enumerate(zip(groups, shares, strict=True))
        )
    )
    return Phase(
        name,
        clients,
        ops,
        time.perf_counter() - start,
        recorder,
        time.thread_time() - thread_cpu,
        time.process_time() - process_cpu,
        rate,
    )


# ---- profiling ----------------------------------------------------------------------------------


async def profile_phase(
    db: Database,
    queue: QueueService,
    hall: BenchHall,
    busy: dict[int, bool],
    citizens: Citizens,
    *,
    ops: int,
    seed: int,
    label: str,
) -> dict[str, Any]:
    """Two further sequential runs: one instrumented (SQL statements per operation, time in the read-back
    ticket_view and in live_state; negligible overhead), then one under cProfile (where the CPU goes)."""
    recorder = Recorder()
    statements: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    inner: dict[str, Counter[str]] = {'ticket_view': Counter(), 'live_state': Counter()}
    seen: set[str] = set()

    def count_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        kind = recorder.current_kind or 'other'
        statements[kind] += 1
        if kind not in seen:
            examples.setdefault(kind, []).append(' '.join(statement.split())[:110])

    def timing(name: str, method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            kind = recorder.current_kind or 'other'
            start = time.perf_counter()
            try:
                return await method(*args, **kwargs)
            finally:
                inner[name][kind] += time.perf_counter() - start  # type: ignore[assignment]

        return wrapper

    class FirstOfKind(Recorder):
        async def timed(self, kind: str, operation: Awaitable[Any], *, since: float | None = None) -> bool:
            try:
                return await super().timed(kind, operation, since=since)
            finally:
                seen.add(kind)

    recorder = FirstOfKind()
    event.listen(db.engine.sync_engine, 'before_cursor_execute', count_statement)
    queue.ticket_view = timing('ticket_view', queue.ticket_view)  # type: ignore[method-assign]
    queue.live_state = timing('live_state', queue.live_state)  # type: ignore[method-assign]
    try:
        instrumented = await run_phase(
            'instrumented', queue, hall, busy, citizens, ops=ops, clients=1, seed=seed, recorder=recorder
        )
    finally:
        event.remove(db.engine.sync_engine, 'before_cursor_execute', count_statement)
        del queue.ticket_view, queue.live_state

    per_kind = {}
    for kind in KINDS:
        samples = recorder.samples.get(kind, [])
        if not samples:
            continue
        total = sum(samples)
        per_kind[kind] = {
            'n': len(samples),
            'mean_ms': round(1000 * total / len(samples), 3),
            'sql_statements_per_op': round(statements[kind] / len(samples), 1),
            'read_back_ticket_view_ms': round(1000 * inner['ticket_view'][kind] / len(samples), 3),
            'read_back_share': round(inner['ticket_view'][kind] / total, 3),
            'live_state_ms': round(1000 * inner['live_state'][kind] / len(samples), 3),
            'first_op_statements': examples.get(kind, []),
        }

    profiler = cProfile.Profile()
    profiler.enable()
    profiled = await run_phase('profiled', queue, hall, busy, citizens, ops=ops, clients=1, seed=seed + 1)
    profiler.disable()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    profile_path = RESULTS_DIR / f'queue-{label}.prof'
    profiler.dump_stats(profile_path)

    def stats_text(sort: str, *restrictions: Any) -> str:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(*restrictions)
        lines = out.getvalue().splitlines()
        first = next((i for i, line in enumerate(lines) if line.lstrip().startswith('ncalls')), 0)
        return '\n'.join(line for line in lines[first:] if line.strip())

    return {
        'instrumented': instrumented.to_json(),
        'per_kind': per_kind,
        'cprofile_ops': profiled.recorder.successes,
        'cprofile_ops_per_s': round(profiled.recorder.successes / profiled.wall_s, 1),
        'profile_file': str(profile_path),
        'top_cumulative_app': stats_text('cumulative', r'/app/', 18),
        'top_tottime': stats_text('tottime', 20),
        'ops': instrumented.recorder.successes + profiled.recorder.successes,
    }


# ---- the machine --------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def _filesystem(path: Path) -> str:
    """Type and device of the mount holding `path` (tmpfs would make fsync free)."""
    best = ('', 'unknown', '?')
    try:
        for line in Path('/proc/mounts').read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path).startswith(mount) and len(mount) >= len(best[0]):
                best = (mount, kind, device)
    except OSError:
        return 'unknown'
    return f'{best[1]} ({best[2]} on {best[0]})'


def _git_revision() -> str:
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=_ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--', 'app'], cwd=_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head.stdout.strip() + (' (app/ has uncommitted changes)' if dirty else '')
    except OSError:
        return 'unknown'


def machine_info() -> dict[str, Any]:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        'nproc': affinity,
        'cpu_count': os.cpu_count(),
        'cpu': _cpu_model(),
        'platform': platform.platform(),
        'python': f'{platform.python_implementation()} {platform.python_version()}',
        'sqlite': sqlite3.sqlite_version,
        'sqlalchemy': sqlalchemy.__version__,
        'aiosqlite': aiosqlite.__version__,
        'asyncpg': asyncpg.__version__,
        'git': _git_revision(),
        'loadavg_1m_at_start': round(os.getloadavg()[0], 2),
    }


def sqlite_commit_floor(directory: Path, commits: int = 30) -> float:
    """Median ms of one tiny durable write transaction with the app's pragmas (raw sqlite3): the disk's floor."""
    path = directory / 'floor.db'
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in SQLITE_PRAGMAS:
            connection.execute(pragma)
        connection.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)')
        timings = []
        for i in range(commits):
            start = time.perf_counter()
            connection.execute('BEGIN IMMEDIATE')
            connection.execute('INSERT INTO t (v) VALUES (?)', (i,))
            connection.execute('COMMIT')
            timings.append(time.perf_counter() - start)
    finally:
        connection.close()
        for suffix in ('', '-wal', '-shm'):
            Path(f'{path}{suffix}').unlink(missing_ok=True)
    return round(1000 * sorted(timings)[len(timings) // 2], 3)


async def postgres_commit_floor(url: str, commits: int = 30) -> float:
    connection = await asyncpg.connect(url.replace('postgresql+asyncpg://', 'postgresql://'))
    try:
        # a regular table: a temporary one writes no WAL, so its commits would not wait for fsync
        await connection.execute('CREATE TABLE bench_commit_floor (id serial PRIMARY KEY, v int)')
        timings = []
        for i in range(commits):
            start = time.perf_counter()
            async with connection.transaction():
                await connection.execute('INSERT INTO bench_commit_floor (v) VALUES ($1)', i)
            timings.append(time.perf_counter() - start)
        await connection.execute('DROP TABLE bench_commit_floor')
    finally:
        await connection.close()
    return round(1000 * sorted(timings)[len(timings) // 2], 3)


# ---- one database -------------------------------------------------------------------------------


async def integrity(db: Database, hall: BenchHall, busy: dict[int, bool]) -> dict[str, Any]:
    """After the run: every busy window holds exactly one called ticket, no ticket is at two windows, and every
    ticket event has its audit row in one unbroken chain."""
    async with db.session() as s:
        recent = Ticket.day >= utcnow().date() - dt.timedelta(days=1)
        by_status = dict(
            (await s.execute(select(Ticket.status, func.count()).where(recent).group_by(Ticket.status))).all()
        )
        windows = list((await s.execute(select(Window).where(Window.hall_id == hall.hall_id))).scalars())
        called = list((await s.execute(select(Ticket).where(Ticket.status == TicketStatus.CALLED))).scalars())
        events = (await s.execute(select(func.count()).select_from(TicketEvent))).scalar_one()
        audited = (
            await s.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action.startswith('ticket_')))
        ).scalar_one()
    chain = await audit.verify(db)
    holders = {w.id: w.current_ticket_id for w in windows if w.current_ticket_id}
    problems = []
    if sorted(holders.values()) != sorted(t.id for t in called):
        problems.append('called tickets and windows disagree')
    if len({t.window_id for t in called}) != len(called):
        problems.append('two called tickets at one window')
    if {w for w, b in busy.items() if b} != set(holders):
        problems.append('busy windows differ from what the benchmark expected')
    if audited != events or not chain.ok:
        problems.append(f'audit chain: {audited} ticket rows for {events} events, {chain.reason or "intact"}')
    return {
        'tickets_by_status': {str(k): v for k, v in by_status.items()},
        'ticket_events': events,
        'problems': problems,
    }


@dataclass
class DbRun:
    label: str
    url: str
    details: dict[str, Any] = field(default_factory=dict)


async def bench_database(run: DbRun, args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    print(f'[{run.label}] migrating a fresh database ...', flush=True)
    await upgrade_async(run.url)
    db = Database(run.url, audit_key=settings.key(Purpose.AUDIT))  # every transition appends to the audit chain
    bus = InProcessBus()
    published: Counter[str] = Counter()
    bus.subscribe(lambda e: published.update([e.type_name]), name='bench-counter')
    cipher = FieldCipher({'k1': settings.secret}, 'k1')
    rng = random.Random(args.seed)
    refresher: EtaRefresher | None = None
    try:
        if db.is_sqlite:
            async with db.engine.connect() as connection:
                run.details['journal_mode'] = (await connection.exec_driver_sql('PRAGMA journal_mode')).scalar()
                sync = (await connection.exec_driver_sql('PRAGMA synchronous')).scalar()
                run.details['synchronous'] = {0: 'OFF', 1: 'NORMAL', 2: 'FULL', 3: 'EXTRA'}.get(sync, sync)
        else:
            async with db.engine.connect() as connection:
                for name in ('server_version', 'synchronous_commit', 'fsync', 'shared_buffers'):
                    run.details[name] = (await connection.execute(text(f'SHOW {name}'))).scalar()
        hall = await build_hall(db)
        await add_history(db, hall, args.history, args.history_days, rng)
        limits = build_limits(db, redis_url='', key=settings.key(Purpose.LIMITS))
        queue = QueueService(Deps(db, bus, settings, cipher, limits, hall.hall_id))
        live = await queue.start_live()  # as the app's runtime does,
        refresher = EtaRefresher(live)  # and as its composition root does: the look-ahead off the request path
        refresher.start()
        citizens = Citizens(rng, max(50, args.ops // 2))
        busy = dict.fromkeys(hall.open_windows, False)

        serving = len(hall.open_windows)
        print(f'[{run.label}] backlog of {args.backlog} waiting, {serving} windows serving ...', flush=True)
        setup = Recorder()
        for _ in range(args.backlog + len(hall.open_windows)):
            await setup.timed('take', queue.take_ticket(citizens.request(rng)[1], caller=DESK))
        for window in hall.open_windows:
            if await setup.timed('call', queue.call_next(window, caller=DESK)):
                busy[window] = True
        warmup = await run_phase('warmup', queue, hall, busy, citizens, ops=args.warmup, clients=1, seed=args.seed + 1)
        if setup.errors or warmup.recorder.errors:
            raise RuntimeError(f'set-up failed: {dict(setup.errors) | dict(warmup.recorder.errors)}')

        print(f'[{run.label}] sequential: {args.ops} operations, 1 client ...', flush=True)
        sequential = await run_phase(
            'sequential', queue, hall, busy, citizens, ops=args.ops, clients=1, seed=args.seed + 2
        )
        print(f'[{run.label}] concurrent: {args.ops} operations, {args.clients} clients ...', flush=True)
        concurrent = await run_phase(
            'concurrent', queue, hall, busy, citizens, ops=args.ops, clients=args.clients, seed=args.seed + 3
        )
        paced = None
        if args.rate > 0:
            print(f'[{run.label}] paced: {args.ops} operations offered at {args.rate:g}/s ...', flush=True)
            paced = await run_phase(
                'paced',
                queue,
                hall,
                busy,
                citizens,
                ops=args.ops,
                clients=len(hall.open_windows),
                seed=args.seed + 5,
                rate=args.rate,
            )
        profile = None
        if args.profile:
            print(f'[{run.label}] profiling a further sequential run ...', flush=True)
            profile = await profile_phase(
                db, queue, hall, busy, citizens, ops=args.profile_ops, seed=args.seed + 4, label=run.label
            )
        await bus.drain()
        checks = await integrity(db, hall, busy)
        expected_events = (
            setup.successes
            + warmup.recorder.successes
            + sequential.recorder.successes
            + concurrent.recorder.successes
            + (paced.recorder.successes if paced else 0)
            + (profile['ops'] if profile else 0)
        )
        checks['bus_events'] = sum(published.values())
        if checks['ticket_events'] != expected_events or checks['bus_events'] != expected_events:
            checks['problems'].append(f'expected {expected_events} events (one per successful operation)')
        return {
            'setup': {
                'backlog_waiting': args.backlog,
                'windows_serving': len(hall.open_windows),
                'history_tickets': args.history,
                'history_days': args.history_days,
                'warmup_ops': args.warmup,
            },
            'phases': {
                'sequential': sequential.to_json(),
                'concurrent': concurrent.to_json(),
                **({'paced': paced.to_json()} if paced else {}),
            },
            'integrity': checks,
            **({'profile': profile} if profile else {}),
        }
    finally:
        if refresher is not None:
            await refresher.stop()
        await bus.stop()
        await db.dispose()


async def bench_sqlite(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix='halltwin-bench-', dir=args.tmpdir) as directory:
        path = Path(directory) / 'bench.db'
        run = DbRun('sqlite', f'sqlite+aiosqlite:///{path}')
        run.details['file'] = str(path)
        run.details['filesystem'] = _filesystem(path)
        run.details['commit_floor_ms'] = sqlite_commit_floor(Path(directory))
        result = await bench_database(run, args, settings)
    return {'database': {'engine': 'sqlite', 'version': sqlite3.sqlite_version, **run.details}, **result}


async def bench_postgres(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    name = f'halltwin_bench_{secrets.token_hex(5)}'
    admin = await asyncpg.connect(args.pg_dsn)
    try:
        await admin.execute(f'CREATE DATABASE {name}')
    finally:
        await admin.close()
    base = args.pg_dsn.rsplit('/', 1)[0].split('://', 1)[1]
    run = DbRun('postgres', f'postgresql+asyncpg://{base}/{name}')
    run.details['name'] = name
    try:
        run.details['commit_floor_ms'] = await postgres_commit_floor(run.url)
        result = await bench_database(run, args, settings)
    finally:
        admin = await asyncpg.connect(args.pg_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS {name} WITH (FORCE)')
        finally:
            await admin.close()
    return {'database': {'engine': 'postgresql', 'version': run.details.get('server_version'), **run.details}, **result}


# ---- reporting ----------------------------------------------------------------------------------


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """Issue 14 item 2's targets (set for SQLite; informative on PostgreSQL): >= 250 ops/s flat out, p99 <= 20 ms
    one at a time and at 100 ops/s offered, <= 3 ms of the event loop's CPU per operation one at a time."""
    phases = result['phases']
    sequential, concurrent, paced = phases['sequential'], phases['concurrent'], phases.get('paced')
    ops_target, p99_target = SQLITE_TARGET_OPS_PER_S, SQLITE_TARGET_P99_MS
    checks = {
        f'throughput: {concurrent["clients"]} clients flat out >= {ops_target:g} ops/s': (
            concurrent['ops_per_s'] >= ops_target,
            f'{concurrent["ops_per_s"]} ops/s',
        ),
        f'latency: p99 one operation at a time <= {p99_target:g} ms': (
            sequential['latency_ms']['overall']['p99'] <= p99_target,
            f'{sequential["latency_ms"]["overall"]["p99"]} ms',
        ),
        f'cost: event-loop CPU per operation one at a time <= {SQLITE_TARGET_CPU_MS:g} ms': (
            sequential['main_thread_cpu_ms_per_op'] <= SQLITE_TARGET_CPU_MS,
            f'{sequential["main_thread_cpu_ms_per_op"]} ms',
        ),
    }
    if paced:
        checks[f'load: p99 with {paced["offered_ops_per_s"]:g} ops/s offered <= {p99_target:g} ms'] = (
            paced['latency_ms']['overall']['p99'] <= p99_target,
            f'{paced["latency_ms"]["overall"]["p99"]} ms, achieved {paced["ops_per_s"]} ops/s',
        )
    closed_loop_mean = concurrent['latency_ms']['overall']['mean']
    informative = {
        f'p99 with {concurrent["clients"]} clients flat out (queueing: mean ~ clients / throughput'
        f' = {1000 * concurrent["clients"] / concurrent["ops_per_s"]:.0f} ms)': (
            concurrent['latency_ms']['overall']['p99'] <= p99_target,
            f'{concurrent["latency_ms"]["overall"]["p99"]} ms (mean {closed_loop_mean} ms)',
        )
    }
    errors = {name: phase['errors'] for name, phase in phases.items() if phase['errors']}
    clean = not errors and not result['integrity']['problems']
    return {
        'checks': {name: {'pass': ok, 'measured': measured} for name, (ok, measured) in checks.items()},
        'informative': {name: {'pass': ok, 'measured': measured} for name, (ok, measured) in informative.items()},
        'clean_run': clean,
        'pass': all(ok for ok, _ in checks.values()) and clean,
    }


def print_report(label: str, result: dict[str, Any], informative: bool) -> None:
    database = result['database']
    print()
    print('=' * 100)
    if database['engine'] == 'sqlite':
        print(
            f'SQLite {database["version"]}  journal_mode={database["journal_mode"]}'
            f' synchronous={database["synchronous"]}'
            f'  file on {database["filesystem"]}  raw durable commit ~{database["commit_floor_ms"]} ms'
        )
    else:
        print(
            f'PostgreSQL {database["version"]}  synchronous_commit={database["synchronous_commit"]}'
            f' fsync={database["fsync"]}  db {database["name"]} (dropped)  raw commit ~{database["commit_floor_ms"]} ms'
        )
    setup = result['setup']
    print(
        f'hall: {setup["windows_serving"]} windows serving, {setup["backlog_waiting"]} waiting,'
        f' {setup["history_tickets"]} completed tickets over the previous {setup["history_days"]} days'
    )
    header = f'{"phase":<16}{"operation":<16}{"ops":>7}{"ops/s":>9}{"p50":>9}{"p95":>9}{"p99":>9}{"max":>9}   (ms)'
    print(header)
    print('-' * len(header))
    for phase_name, phase in result['phases'].items():
        title = f'{phase_name} ({phase["clients"]})'
        for kind, figures in phase['latency_ms'].items():
            rate = f'{phase["ops_per_s"]:.1f}' if kind == 'overall' else ''
            print(
                f'{title if kind == "overall" else "":<16}{kind:<16}{figures["n"]:>7}{rate:>9}'
                f'{figures["p50"]:>9.2f}{figures["p95"]:>9.2f}{figures["p99"]:>9.2f}{figures["max"]:>9.2f}'
            )
        if phase['errors']:
            print(f'{"":<16}errors: {phase["errors"]}')
    integrity_ = result['integrity']
    print(
        f'integrity: {integrity_["ticket_events"]} ticket events, {integrity_["bus_events"]} bus events, '
        + ('OK' if not integrity_['problems'] else f'PROBLEMS: {integrity_["problems"]}')
    )
    judged = result['targets']
    tag = 'informative: targets are set for SQLite' if informative else 'targets from the issue'
    print(f'targets ({tag}):')
    for name, check in judged['checks'].items():
        print(f'  {"PASS" if check["pass"] else "FAIL"}  {name}  (measured {check["measured"]})')
    for name, check in judged['informative'].items():
        print(f'  ({"pass" if check["pass"] else "fail"}) {name}  (measured {check["measured"]}; not a target)')
    outcome = 'PASS' if judged['pass'] else 'FAIL'
    print(f'  => {label}: {outcome}' + ('' if judged['clean_run'] else ' (run had errors or integrity problems)'))
    for phase_name, phase in result['phases'].items():
        print(
            f'{phase_name}: {phase["wall_s"]} s wall; event-loop thread {phase["main_thread_cpu_ms_per_op"]} ms CPU'
            f' per operation ({100 * phase["main_thread_cpu_s"] / phase["wall_s"]:.0f}% busy);'
            f' process CPU {phase["process_cpu_s"]} s'
        )
    if 'profile' in result:
        profile = result['profile']
        instrumented = profile['instrumented']
        print()
        print(
            f'where the time goes ({instrumented["ops_ok"]} sequential ops, instrumented:'
            f' {instrumented["ops_per_s"]} ops/s; read-back = the ticket_view after the write transaction):'
        )
        print(f'  {"operation":<16}{"mean ms":>9}{"SQL/op":>8}{"read-back ms":>14}{"share":>7}{"live_state ms":>16}')
        for kind, row in profile['per_kind'].items():
            print(
                f'  {kind:<16}{row["mean_ms"]:>9.2f}{row["sql_statements_per_op"]:>8.1f}'
                f'{row["read_back_ticket_view_ms"]:>14.2f}{100 * row["read_back_share"]:>6.0f}%'
                f'{row["live_state_ms"]:>16.2f}'
            )
        for kind, row in profile['per_kind'].items():
            print(f'\n  SQL of one {kind}:')
            print('\n'.join(f'    {line}' for line in row['first_op_statements']))
        print(
            f'\n  cProfile ({profile["cprofile_ops"]} sequential ops, {profile["cprofile_ops_per_s"]} ops/s under the'
            f' profiler; a coroutine counts one call per resumption): {profile["profile_file"]}'
        )
        print('  top of app/ by cumulative time:')
        print('\n'.join('  ' + line for line in profile['top_cumulative_app'].splitlines()))
        print('\n  top by own time:')
        print('\n'.join('  ' + line for line in profile['top_tottime'].splitlines()))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--ops', type=int, default=600, help='operations per phase (sequential, concurrent, paced); 600'
    )
    parser.add_argument('--db', choices=('sqlite', 'postgres', 'both'), default='both', help='database(s); both')
    parser.add_argument('--clients', type=int, default=8, help='concurrent clients in the throughput phase; 8')
    parser.add_argument(
        '--rate', type=float, default=SQLITE_TARGET_OFFERED, help='offered ops/s in the paced phase (0: skip); 100'
    )
    parser.add_argument('--backlog', type=int, default=40, help='tickets waiting before measuring; 40')
    parser.add_argument('--history', type=int, default=0, help='completed tickets of earlier days; 0')
    parser.add_argument('--history-days', type=int, default=7, help='spread --history over this many days; 7')
    parser.add_argument('--warmup', type=int, default=30, help='unmeasured operations before measuring; 30')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--profile', action='store_true', help='also profile a sequential run (cProfile)')
    parser.add_argument('--profile-ops', type=int, default=300, help='operations in the profiled run; 300')
    parser.add_argument('--tmpdir', default=None, help='where the SQLite temp dir goes (default: system temp)')
    parser.add_argument('--strict', action='store_true', help='exit with status 1 when SQLite misses a target')
    parser.add_argument('--pg-dsn', default=PG_ADMIN_DSN, help=f'server to create the database on; {PG_ADMIN_DSN}')
    args = parser.parse_args(argv)
    if args.ops < 3 or args.clients < 1 or args.history_days < 1:
        parser.error('--ops must be >= 3, --clients and --history-days >= 1')
    return args


async def main_async(args: argparse.Namespace) -> int:
    python = os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd() + os.sep) else sys.executable
    command = shlex.join([python, *sys.argv])
    settings = load_settings().model_copy(update={'secret_key': secrets.token_urlsafe(48)})
    machine = machine_info()
    started = dt.datetime.now(dt.UTC).isoformat(timespec='seconds')
    print(f'command: (cd {os.getcwd()} && {command})')
    print(
        f'machine: nproc={machine["nproc"]} {machine["cpu"]}; {machine["platform"]}; Python {machine["python"]};'
        f' SQLite {machine["sqlite"]}; SQLAlchemy {machine["sqlalchemy"]}; git {machine["git"]};'
        f' load average {machine["loadavg_1m_at_start"]}'
    )
    if machine['loadavg_1m_at_start'] > 0.5 * (machine['nproc'] or 1):
        print('warning: the machine is busy with other work; figures will be noisy and pessimistic')
    targets = ['sqlite', 'postgres'] if args.db == 'both' else [args.db]
    failed = False
    for label in targets:
        try:
            result = await (bench_sqlite if label == 'sqlite' else bench_postgres)(args, settings)
        except (OSError, asyncpg.PostgresError) as error:
            if label == 'postgres' and args.db == 'both':
                print(f'\n[postgres] skipped: cannot use {args.pg_dsn}: {error}')
                continue
            raise
        if label == 'postgres':
            machine['postgresql'] = result['database']['version']
        result['targets'] = verdict(result)
        failed |= label == 'sqlite' and not result['targets']['pass']
        document = {
            'benchmark': 'queue',
            'db': label,
            'started_at': started,
            'command': command,
            'cwd': os.getcwd(),
            'arguments': {k: v for k, v in vars(args).items() if k != 'pg_dsn'},
            'machine': machine,
            'workload': (
                'per window: complete -> call_next -> take_ticket (1/3 with a resident ID number);'
                ' services HUJI 45%, SHEBAO 35%, BUDONGCHAN 20%; sequential = 1 client, concurrent = N clients'
                ' each owning its windows'
            ),
            'targets': {
                'ops_per_s': SQLITE_TARGET_OPS_PER_S,
                'offered_ops_per_s': SQLITE_TARGET_OFFERED,
                'p99_ms': SQLITE_TARGET_P99_MS,
                'cpu_ms_per_op': SQLITE_TARGET_CPU_MS,
                'applies_to': 'sqlite',
            },
            **result,
        }
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        out = RESULTS_DIR / f'queue-{label}.json'
        out.write_text(json.dumps(document, ensure_ascii=False, indent=2, default=str) + '\n')
        print_report('SQLite' if label == 'sqlite' else 'PostgreSQL', result, informative=label != 'sqlite')
        print(f'written: {os.path.relpath(out)}')
    return 1 if failed and args.strict else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return asyncio.run(main_async(args))


if __name__ == '__main__':
    sys.exit(main())
