"""CPU per queue event in the live queue state and the twin, against the number waiting (no HTTP, no database).

    .venv/bin/python bench/live_events.py [--levels 0,100,300,1000] [--seconds 3]

The default seed's twin built in memory (tests/twinkit.py: 25 windows, 20 services), its live queue coalescing
as in the served app. Per level it queues that many tickets evenly over the served services, then for `--seconds`
repeats what a take, a call and a complete do to the in-memory state: the take's view (position and estimate),
TicketIssued, TicketCalled and TicketCompleted through `HallTwin.apply`, and, whenever 1/REFRESHES_PER_SECOND s
have passed, the look-ahead recompute that app/services/eta_refresh.py's task would run (its cost is counted).
Prints the process CPU per event (time.process_time: steadier than wall time on a shared machine), the same
without the recomputes (their share per event falls as events come faster: at most 4 a second), and the
recompute's own cost. This isolates issue 20's part of a request; bench/api_load.py measures the whole request.
"""

from __future__ import annotations

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import itertools  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402

from app.clock import utcnow  # noqa: E402
from app.events import TicketCalled, TicketCompleted, TicketIssued, TicketSnapshot  # noqa: E402
from app.models.ticket import PriorityClass  # noqa: E402
from app.services.eta_refresh import REFRESHES_PER_SECOND  # noqa: E402
from app.services.priority import Candidate  # noqa: E402
from tests.twinkit import seed_twin  # noqa: E402

CAP = dt.timedelta(minutes=20)


def snapshot(ticket_id: int, service_id: int, now: dt.datetime, **fields: object) -> TicketSnapshot:
    values: dict[str, object] = {
        'id': ticket_id,
        'number': f'A{ticket_id:03d}',
        'service_id': service_id,
        'service_code': f'S{service_id}',
        'status': 'waiting',
        'priority_class': 'normal',
        'queued_at': now,
        'taken_at': now,
    }
    return TicketSnapshot.model_validate(values | fields)


def measure(level: int, seconds: float) -> dict[str, float]:
    twin = seed_twin()
    live = twin.live
    now = utcnow()
    live.clock = lambda: now
    live.coalesce = True
    open_windows = {wid: slot for wid, slot in live.windows.items() if slot.state == 'open'}
    serving = {sid: [w for w, slot in open_windows.items() if sid in slot.services] for sid in live.services}
    services = sorted(sid for sid, windows in serving.items() if windows)
    ids = itertools.count(1)
    for i in range(level):
        twin.apply(TicketIssued(hall_id=1, payload=snapshot(next(ids), services[i % len(services)], now)))
    live.refresh()
    rounds = recomputes = 0
    recompute_cpu = 0.0
    last = time.perf_counter()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - wall0 < seconds:
        sid = services[rounds % len(services)]
        ticket_id = next(ids)
        ahead = live.ahead_of(Candidate(ticket_id, PriorityClass.NORMAL, now, 1), sid, now=now, cap=CAP)
        live.estimate(sid, ahead)  # the take's answer (QueueViews._view)
        twin.apply(TicketIssued(hall_id=1, payload=snapshot(ticket_id, sid, now)))
        window = serving[sid][0]
        head = next(iter(live.waiting[sid]))
        called = snapshot(head, sid, now, status='serving', window_id=window, called_at=now)
        twin.apply(TicketCalled(hall_id=1, payload=called))
        done = called.model_copy(update={'status': 'completed', 'handling_seconds': 300.0})
        twin.apply(TicketCompleted(hall_id=1, payload=done))
        rounds += 1
        if time.perf_counter() - last >= 1 / REFRESHES_PER_SECOND:  # what the one task per process does
            last = time.perf_counter()
            started = time.process_time()
            if live.refresh():
                recomputes += 1
                recompute_cpu += time.process_time() - started
    cpu = time.process_time() - cpu0
    return {
        'events': 3 * rounds,
        'cpu_ms_per_event': cpu * 1000 / (3 * rounds),
        'event_only_ms': (cpu - recompute_cpu) * 1000 / (3 * rounds),
        'recomputes': recomputes,
        'recompute_ms': recompute_cpu * 1000 / max(1, recomputes),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--levels', default='0,100,300,1000', help='people waiting (comma-separated)')
    parser.add_argument('--seconds', type=float, default=3.0, help='measuring time per level (default 3)')
    args = parser.parse_args()
    print(f'$ {shlex.join([".venv/bin/python", "bench/live_events.py", *sys.argv[1:]])}')
    print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}')
    for level in (int(n) for n in args.levels.split(',') if n.strip()):
        r = measure(level, args.seconds)
        print(
            f'{level:>5} waiting: {r["cpu_ms_per_event"]:.3f} ms CPU per event ({r["events"]} events), '
            f'{r["event_only_ms"]:.3f} ms without the {r["recomputes"]} look-ahead recomputes '
            f'({r["recompute_ms"]:.2f} ms each)',
            flush=True,
        )
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
