"""Wait-estimate accuracy: the ETA a citizen is shown when taking a number against the wait that followed.

    .venv/bin/python bench/eta_accuracy.py [--days 5] [--start 2026-11-30] [--seed 1] [--baseline-window 10]

Builds the default seed hall (25 windows, 20 services) with its synthetic year of history in a
throw-away SQLite database (on /dev/shm when there is one), then runs `--days` working days through
the real QueueService with the hall simulator (devices/sim/hall_traffic.py) on a virtual clock: arrivals
at the forecast's rates, lognormal handling times, no-shows and late citizens, green-channel elderly.
For every ticket it records the estimate returned by take_ticket (expected minutes and the 80%
range) and compares it with the actual wait, first call minus take time. Per queue (service) and
overall it prints the mean absolute error (MAE) divided by the median wait, the coverage of the 80%
range, and the mean squared error against a baseline: the rolling average of the last N actual waits
in that queue (as known when the ticket was taken, today only). Targets (issue 5, item 8): squared
error >= 30% lower than the baseline, coverage 75-85%. Results go to bench/results/eta-accuracy.json.
`--coalesce` runs the estimates as the served app does (issue 20): the look-ahead recomputed at most a few
times a (virtual) second, readers in between shifting the last one.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if __name__ == '__main__':
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict, deque  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from sqlmodel import select  # noqa: E402

from app.bus import InProcessBus  # noqa: E402
from app.db import Database  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.models import Hall, ServiceItem, Ticket  # noqa: E402
from app.security.crypto import FieldCipher  # noqa: E402
from app.security.keys import Purpose  # noqa: E402
from app.services.deps import Deps  # noqa: E402
from app.services.eta_refresh import REFRESHES_PER_SECOND  # noqa: E402
from app.services.forecast import ForecastService  # noqa: E402
from app.services.hall_hours import is_working_day, local_moment  # noqa: E402
from app.services.limits import build_limits  # noqa: E402
from app.services.live_queue import LiveQueue  # noqa: E402
from app.services.queue import QueueService, TicketView  # noqa: E402
from app.settings import load_settings  # noqa: E402
from devices.sim.hall_traffic import HallSimulator, SimConfig, VirtualClock, model_rates  # noqa: E402
from seed.history import ensure_history  # noqa: E402
from seed.loader import load_seed  # noqa: E402

RESULTS = Path(_HERE) / 'results' / 'eta-accuracy.json'
SECRET = b'eta-accuracy-bench-secret-0123456789abcdef'
TARGET_MSE_REDUCTION = 0.30
TARGET_COVERAGE = (0.75, 0.85)


class CoalescingClock(VirtualClock):
    """The served app's estimates on the virtual clock: the look-ahead is recomputed as app/services/eta_refresh.py
    does, at most REFRESHES_PER_SECOND times a (virtual) second, and estimates in between read the last one."""

    live: LiveQueue | None = None
    _last: dt.datetime | None = None

    async def wait_until(self, moment: dt.datetime) -> None:
        await super().wait_until(moment)
        due = self._last is None or (self.now - self._last).total_seconds() >= 1 / REFRESHES_PER_SECOND
        if self.live is not None and due and self.live.refresh():
            self._last = self.now


@dataclass
class Sample:
    ticket_id: int
    service: str
    day: str
    taken_at: dt.datetime
    ahead: int
    eta: float
    low: float
    high: float
    wait: float | None = None
    baseline: float = 0.0


async def simulate(args: argparse.Namespace, folder: Path) -> tuple[list[Sample], dict[str, Any]]:
    url = f'sqlite+aiosqlite:///{folder / "eta.db"}'
    await upgrade_async(url)
    settings = load_settings().model_copy(update={'secret_key': SECRET.decode(), 'var_dir': folder})
    db = Database(url, audit_key=settings.key(Purpose.AUDIT))  # the queue audits every transition
    await load_seed(db, seed_name='default', secret=SECRET)
    await ensure_history(db, hall_code='main', end=args.start)
    async with db.session() as s:
        hall_id = (await s.execute(select(Hall.id).where(Hall.code == 'main'))).scalar_one()
    clock = (CoalescingClock if args.coalesce else VirtualClock)(local_moment(args.start, 7, settings.tz))
    bus = InProcessBus()
    limits = build_limits(db, redis_url='', key=settings.key(Purpose.LIMITS), clock=clock)
    deps = Deps(db, bus, settings, FieldCipher({'k1': SECRET}, 'k1'), limits, hall_id, clock)
    queue = QueueService(deps)
    live = await queue.start_live()
    if isinstance(clock, CoalescingClock):
        clock.live = live
        live.coalesce = True
    model = await ForecastService(deps).model()
    samples: list[Sample] = []

    def observe(kind: str, view: TicketView) -> None:
        if kind == 'issued' and view.estimate is not None and view.ticket.id is not None:
            e = view.estimate
            samples.append(
                Sample(
                    view.ticket.id,
                    view.service.code,
                    str(view.ticket.day),
                    view.ticket.taken_at,
                    (view.position or 1) - 1,
                    e.minutes,
                    e.low,
                    e.high,
                )
            )

    days, day, counts = [], args.start, defaultdict(int)
    started = time.perf_counter()
    while len(days) < args.days:
        if is_working_day(day):
            simulator = HallSimulator(
                queue, model_rates(model), clock=clock, config=SimConfig(seed=args.seed + len(days)), observer=observe
            )
            report = await simulator.run_day(day)
            for name in ('issued', 'completed', 'no_shows', 'errors'):
                counts[name] += getattr(report, name)
            days.append(str(day))
            print(
                f'  {day}: {report.issued} tickets, {report.no_shows} no-shows ({time.perf_counter() - started:.0f} s)'
            )
        day += dt.timedelta(days=1)
    async with db.read_session() as s:
        called = dict(
            (await s.execute(select(Ticket.id, Ticket.first_called_at).where(Ticket.hall_id == hall_id))).all()
        )
        windows = len((await s.execute(select(ServiceItem.id))).all())
    await bus.stop()
    await db.dispose()
    for sample in samples:
        first = called.get(sample.ticket_id)
        if first is not None:
            sample.wait = (first - sample.taken_at).total_seconds() / 60
    info = {'days': days, 'simulated_seconds': round(time.perf_counter() - started, 1), 'services': windows, **counts}
    return samples, info


def add_baseline(samples: list[Sample], window: int) -> None:
    """Rolling average of the last `window` waits of the queue known at take time (first call <= take)."""
    by_queue: dict[tuple[str, str], list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample.wait is not None:
            by_queue[(sample.day, sample.service)].append(sample)
    for queue in by_queue.values():
        calls = sorted(queue, key=lambda s: s.taken_at + dt.timedelta(minutes=s.wait or 0))
        known: deque[float] = deque(maxlen=window)
        index = 0
        for sample in sorted(queue, key=lambda s: s.taken_at):
            while index < len(calls) and calls[index].taken_at + dt.timedelta(minutes=calls[index].wait or 0) <= (
                sample.taken_at
            ):
                known.append(calls[index].wait or 0.0)
                index += 1
            sample.baseline = sum(known) / len(known) if known else 0.0


def figures(samples: list[Sample]) -> dict[str, Any]:
    done = [s for s in samples if s.wait is not None]
    waits = [s.wait or 0.0 for s in done]
    if not done:
        return {'tickets': 0}
    err = [s.eta - (s.wait or 0) for s in done]
    base = [s.baseline - (s.wait or 0) for s in done]
    mse, mse_base = statistics.fmean(e * e for e in err), statistics.fmean(b * b for b in base)
    median = statistics.median(waits)
    mae, mae_base = statistics.fmean(abs(e) for e in err), statistics.fmean(abs(b) for b in base)
    covered = sum(1 for s in done if s.low <= (s.wait or 0) <= s.high) / len(done)
    waited = [s for s in done if s.eta > 0]  # an idle window calls at once: those ranges are trivially right
    covered_waiting = sum(1 for s in waited if s.low <= (s.wait or 0) <= s.high) / len(waited) if waited else None
    shown = sum(1 for s in done if int(s.low) <= (s.wait or 0) <= max(1, round(s.high + 0.49))) / len(done)
    return {
        'tickets': len(done),
        'median_wait': round(median, 2),
        'mean_wait': round(statistics.fmean(waits), 2),
        'mae': round(mae, 2),
        'mae_over_median': round(mae / median, 3) if median else None,
        'mae_baseline': round(mae_base, 2),
        'baseline_mae_over_median': round(mae_base / median, 3) if median else None,
        'mse': round(mse, 2),
        'mse_baseline': round(mse_base, 2),
        'mse_reduction': round(1 - mse / mse_base, 3) if mse_base else None,
        'coverage_80': round(covered, 3),
        'coverage_80_had_to_wait': round(covered_waiting, 3) if covered_waiting is not None else None,
        'had_to_wait': len(waited),
        'coverage_shown': round(shown, 3),
        'mean_range_width': round(statistics.fmean(s.high - s.low for s in done), 2),
    }


def report(samples: list[Sample], info: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    by_service: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_service[sample.service].append(sample)
    per_queue = {code: figures(items) for code, items in sorted(by_service.items())}
    overall = figures(samples)
    header = f'{"queue":<17}{"n":>5}{"median":>8}{"MAE/med":>9}{"base/med":>9}{"MSE red.":>9}{"cover80":>9}'
    print(header)
    for code, f in [*per_queue.items(), ('ALL', overall)]:
        if not f.get('tickets'):
            continue
        print(
            f'{code:<17}{f["tickets"]:>5}{f["median_wait"]:>8.1f}{_num(f["mae_over_median"]):>9}'
            f'{_num(f["baseline_mae_over_median"]):>9}{_pct(f["mse_reduction"]):>9}{_pct(f["coverage_80"]):>9}'
        )
    reduction, coverage = overall.get('mse_reduction') or 0.0, overall.get('coverage_80') or 0.0
    passed = reduction >= TARGET_MSE_REDUCTION and TARGET_COVERAGE[0] <= coverage <= TARGET_COVERAGE[1]
    o = overall
    print(
        f'\noverall: {o["tickets"]} tickets, median wait {o["median_wait"]} min, mean {o["mean_wait"]} min\n'
        f'  MAE {o["mae"]} min = {o["mae_over_median"]} x median (baseline {o["mae_baseline"]} min = '
        f'{o["baseline_mae_over_median"]} x median)\n'
        f'  MSE {o["mse"]} vs baseline {o["mse_baseline"]}: {_pct(reduction)} lower (target >= 30%)\n'
        f'  80% range coverage {_pct(coverage)} (target 75-85%); {_pct(o["coverage_80_had_to_wait"])} of the '
        f'{o["had_to_wait"]} told to wait; {_pct(o["coverage_shown"])} as shown (whole minutes, rounded outwards); '
        f'mean width {o["mean_range_width"]} min'
    )
    print(f'{"PASS" if passed else "FAIL"}: estimator against rolling average of the last {args.baseline_window} waits')
    return {'overall': overall, 'per_queue': per_queue, 'passed': passed, **info}


def _num(value: float | None) -> str:
    return '-' if value is None else f'{value:.2f}'


def _pct(value: float | None) -> str:
    return '-' if value is None else f'{100 * value:.0f}%'


def machine() -> dict[str, Any]:
    git = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=_ROOT)
    return {
        'nproc': len(os.sched_getaffinity(0)),
        'python': platform.python_version(),
        'git': git.stdout.strip(),
        'loadavg_1m_at_start': round(os.getloadavg()[0], 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--days', type=int, default=5, help='working days to simulate')
    parser.add_argument('--start', type=dt.date.fromisoformat, default=dt.date(2026, 11, 30))
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--baseline-window', type=int, default=10, help='waits in the rolling-average baseline')
    parser.add_argument('--dump', help='write every sample (JSON lines) to this file')
    parser.add_argument(
        '--coalesce', action='store_true', help="the served app's coalesced look-ahead (default: recomputed per read)"
    )
    parser.add_argument('--strict', action='store_true', help='exit with status 1 when a target is missed')
    args = parser.parse_args()
    command = '.venv/bin/python bench/eta_accuracy.py ' + shlex.join(sys.argv[1:])
    info = machine()
    print(f'$ {command.strip()}\nmachine: {info}')
    shm = Path('/dev/shm')
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None) as folder:
        samples, run = asyncio.run(simulate(args, Path(folder)))
    add_baseline(samples, args.baseline_window)
    if args.dump:
        Path(args.dump).write_text('\n'.join(json.dumps({**vars(x), 'taken_at': str(x.taken_at)}) for x in samples))
    result = report(samples, run, args)
    RESULTS.parent.mkdir(exist_ok=True)
    payload = {'command': command.strip(), 'machine': info, **result, 'samples': len(samples)}
    RESULTS.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    print(f'results: {RESULTS.relative_to(Path(_ROOT))}')
    return 1 if args.strict and not result['passed'] else 0


if __name__ == '__main__':
    sys.exit(main())
