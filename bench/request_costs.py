"""Per-request costs: a staff bearer token's session check, an anonymous take, and a window's call-next + complete.

Why: through the API every staff request first reads its session (`AuthService.authenticate`), and a kiosk's or
phone's anonymous take counts its abuse limits before the ticket is written; then the clerk's window calls and
completes the tickets taken (the engine's two commands, without the post-commit subscribers). They run here on the
real services over a durable SQLite file (the app's pragmas: WAL, synchronous=FULL), one at a time, with the live
queue state and its coalesced look-ahead task as the served app has them (a take's position and estimate cost no
query). The process CPU per call is printed (the steadiest figure on a shared machine), with wall time per call, the
machine and the command.

    .venv/bin/python bench/request_costs.py        # 2,000 session checks, 250 anonymous takes and calls, best of 3
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.dirname(_HERE)
if __name__ == '__main__':
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]  # bench/ would shadow `queue`
    sys.path.insert(0, _ROOT)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import shlex  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from app.bus import InProcessBus  # noqa: E402
from app.clock import utcnow  # noqa: E402
from app.db import Database  # noqa: E402
from app.migrate import upgrade_async  # noqa: E402
from app.models.people import Role, StaffUser  # noqa: E402
from app.models.ticket import Channel, TicketCreate  # noqa: E402
from app.security.crypto import FieldCipher  # noqa: E402
from app.security.keys import Purpose  # noqa: E402
from app.security.passwords import hash_password  # noqa: E402
from app.services.auth import AuthService  # noqa: E402
from app.services.deps import Deps  # noqa: E402
from app.services.eta_refresh import EtaRefresher  # noqa: E402
from app.services.limits import build_limits  # noqa: E402
from app.services.principal import Principal  # noqa: E402
from app.services.queue import QueueService  # noqa: E402
from app.settings import load_settings  # noqa: E402
from bench.queue_throughput import SERVICES, build_hall, machine_info  # noqa: E402

PASSWORD = 'Bench-Clerk-2026'


async def _cpu_per_call(calls: int, rounds: int, one: Callable[[int], Awaitable[object]]) -> tuple[float, float]:
    """Best of `rounds`: (process CPU ms, wall ms) per call."""
    best = (float('inf'), float('inf'))
    done = 0
    for _ in range(rounds):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(calls):
            await one(done)
            done += 1
        per = ((time.process_time() - cpu) * 1000 / calls, (time.perf_counter() - wall) * 1000 / calls)
        best = min(best, per)
    return best


async def main(args: argparse.Namespace) -> None:
    print('$ ' + shlex.join([sys.executable.replace(_ROOT + '/', ''), *sys.argv]))
    print('machine:', machine_info())
    with tempfile.TemporaryDirectory(prefix='halltwin-costs-') as folder:
        url = f'sqlite+aiosqlite:///{Path(folder) / "bench.db"}'
        settings = load_settings().model_copy(update={'db_url': url})
        await upgrade_async(url)
        db = Database(url, audit_key=settings.key(Purpose.AUDIT))
        bus = InProcessBus()
        try:
            hall = await build_hall(db)
            deps = Deps(
                db,
                bus,
                settings,
                FieldCipher({'k1': settings.secret}, 'k1'),
                build_limits(db, redis_url='', key=settings.key(Purpose.LIMITS)),
                hall.hall_id,
            )
            async with db.session() as s, s.begin():
                s.add(
                    StaffUser(
                        username='clerk',
                        display_name='clerk',
                        password_hash=hash_password(PASSWORD),
                        role=Role.STAFF,
                        hall_id=hall.hall_id,
                        window_id=hall.open_windows[0],
                        created_at=utcnow(),
                    )
                )
            auth = AuthService(deps)
            token = (await auth.login('clerk', PASSWORD, client_address='10.0.0.1')).token
            cpu, wall = await _cpu_per_call(args.checks, args.rounds, lambda _i: auth.authenticate(token))
            print(f'session check (AuthService.authenticate): {cpu:.3f} ms CPU, {wall:.3f} ms wall per call')
            queue = QueueService(deps)
            refresher = EtaRefresher(await queue.start_live())  # as app/main.py: estimates from memory, coalesced
            refresher.start()
            code = SERVICES[0][0]

            def take(i: int) -> Awaitable[object]:
                caller = Principal.anonymous(f'10.1.{i // 250}.{i % 250}')  # each address well under its limit
                return queue.take_ticket(TicketCreate(service_code=code, channel=Channel.KIOSK), caller=caller)

            takes = max(1, args.takes // args.rounds)
            cpu, wall = await _cpu_per_call(takes, args.rounds, take)
            print(f'anonymous take (QueueService.take_ticket): {cpu:.3f} ms CPU, {wall:.3f} ms wall per call')
            clerk, window = await auth.authenticate(token), hall.open_windows[0]

            async def serve(_i: int) -> None:  # every ticket just taken, one after the other at the clerk's window
                await queue.call_next(window, caller=clerk)
                await queue.complete(window, caller=clerk)

            cpu, wall = await _cpu_per_call(takes, args.rounds, serve)
            await refresher.stop()
            print(f'call-next + complete (QueueService): {cpu:.3f} ms CPU, {wall:.3f} ms wall per pair')
        finally:
            await bus.stop()
            await deps.limits.close()
            await db.dispose()


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--checks', type=int, default=2000, help='session checks per round')
    parser.add_argument('--takes', type=int, default=250, help='anonymous takes in all (the hall allows 300 / 10 min)')
    parser.add_argument('--rounds', type=int, default=3)
    asyncio.run(main(parser.parse_args()))
