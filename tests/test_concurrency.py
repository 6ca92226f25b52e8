"""Many windows calling at once never call a ticket twice, on SQLite and PostgreSQL, in one or many processes."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections import Counter

from sqlalchemy import func
from sqlmodel import select

from app.bus import InProcessBus
from app.db import Database
from app.models import Ticket, TicketCreate, TicketEvent, TicketStatus, Window
from app.models.ticket import DailyCounter
from app.services import audit
from app.services.queue import QueueService
from app.settings import ROOT, Settings
from tests.busyhall import PREFIX, BusyHall, build_busy_hall, issue_waiting, queue_service, serve_window
from tests.callers import DESK

WINDOWS = 12
TICKETS = 300
PROCESSES = 4
PROCESS_TICKETS = 120


async def take_many(queue: QueueService, service_code: str, count: int) -> list[int]:
    """Take `count` tickets concurrently; their ids."""
    views = await asyncio.gather(
        *(queue.take_ticket(TicketCreate(service_code=service_code), caller=DESK) for _ in range(count))
    )
    return [v.ticket.id for v in views if v.ticket.id is not None]


async def event_counts(db: Database, kind: str) -> Counter[int]:
    async with db.session() as s:
        rows = await s.execute(
            select(TicketEvent.ticket_id, func.count()).where(TicketEvent.kind == kind).group_by(TicketEvent.ticket_id)
        )
        return Counter({ticket_id: count for ticket_id, count in rows})


async def assert_served_exactly_once(
    db: Database, busy: BusyHall, taken: list[int], served: dict[int, list[int]]
) -> None:
    """Every ticket called once by exactly one window, completed, and every window free again."""
    called = list(itertools.chain.from_iterable(served.values()))
    duplicates = [ticket_id for ticket_id, n in Counter(called).items() if n > 1]
    assert not duplicates, f'tickets called more than once: {duplicates}'
    assert sorted(called) == sorted(taken)

    calls = await event_counts(db, 'called')
    assert set(calls) == set(taken) and set(calls.values()) == {1}, 'a ticket has more or fewer than one call'
    completions = await event_counts(db, 'completed')
    assert set(completions) == set(taken) and set(completions.values()) == {1}

    by_window = {ticket_id: window_id for window_id, ids in served.items() for ticket_id in ids}
    async with db.session() as s:
        tickets = list((await s.execute(select(Ticket).where(Ticket.hall_id == busy.hall_id))).scalars())
        windows = list((await s.execute(select(Window).where(Window.hall_id == busy.hall_id))).scalars())
        calls_rows = await s.execute(
            select(TicketEvent.ticket_id, TicketEvent.window_id).where(TicketEvent.kind == 'called')
        )
        called_at_window = {ticket_id: window_id for ticket_id, window_id in calls_rows}
    assert len(tickets) == len(taken)
    assert {t.status for t in tickets} == {TicketStatus.COMPLETED}
    assert all(t.window_id == by_window[t.id] == called_at_window[t.id] for t in tickets)
    numbers = [t.number for t in tickets]
    assert len(set(numbers)) == len(numbers)
    assert sorted(numbers) == [f'{PREFIX}{n:03d}' for n in range(1, len(taken) + 1)]
    assert all(w.current_ticket_id is None for w in windows)
    chain = await audit.verify(db)
    assert chain.ok and chain.rows >= 2 * len(taken), 'every call and completion joins one unbroken audit chain'


async def test_concurrent_windows_call_every_ticket_exactly_once(
    db: Database, bus: InProcessBus, settings: Settings
) -> None:
    busy = await build_busy_hall(db, windows=WINDOWS)
    queue = queue_service(db, bus, settings, busy.hall_id)
    taken = await issue_waiting(db, busy, TICKETS, settings=settings)  # take_ticket itself: the tests below
    assert len(taken) == TICKETS

    results = await asyncio.gather(*(serve_window(queue, w) for w in busy.window_ids))
    served = dict(zip(busy.window_ids, results, strict=True))

    await assert_served_exactly_once(db, busy, taken, served)
    assert sum(1 for ids in served.values() if ids) >= 2, 'the windows did not run concurrently'


async def test_concurrent_takes_give_unique_consecutive_numbers(
    db: Database, bus: InProcessBus, settings: Settings
) -> None:
    busy = await build_busy_hall(db, windows=2)
    queue = queue_service(db, bus, settings, busy.hall_id)
    views = await asyncio.gather(
        *(queue.take_ticket(TicketCreate(service_code=busy.service_code), caller=DESK) for _ in range(50))
    )
    numbers = [v.ticket.number for v in views]
    assert sorted(numbers) == [f'{PREFIX}{n:03d}' for n in range(1, 51)]
    assert len({v.ticket.code for v in views}) == 50
    async with db.session() as s:
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 50
        counter = (await s.execute(select(DailyCounter))).scalar_one()
        assert counter.last == 50 and counter.prefix == PREFIX
    assert (
        await queue.take_ticket(TicketCreate(service_code=busy.service_code), caller=DESK)
    ).ticket.number == f'{PREFIX}051'


async def test_taking_and_calling_at_the_same_time(db: Database, bus: InProcessBus, settings: Settings) -> None:
    """Kiosks keep issuing while every window calls: each ticket still reaches exactly one window."""
    busy = await build_busy_hall(db, windows=6)
    queue = queue_service(db, bus, settings, busy.hall_id)
    taken: list[int] = []
    done_taking = asyncio.Event()

    async def kiosk() -> None:
        for _ in range(10):
            taken.extend(await take_many(queue, busy.service_code, 3))
            await asyncio.sleep(0)

    async def window(window_id: int) -> list[int]:
        served: list[int] = []
        while True:
            served += await serve_window(queue, window_id)
            if done_taking.is_set():
                return served + await serve_window(queue, window_id)
            await asyncio.sleep(0.02)

    async def kiosks() -> None:
        await asyncio.gather(kiosk(), kiosk())
        done_taking.set()

    results = await asyncio.gather(kiosks(), *(window(w) for w in busy.window_ids))
    served = dict(zip(busy.window_ids, results[1:], strict=True))
    assert len(taken) == 60
    await assert_served_exactly_once(db, busy, taken, served)


async def test_windows_in_separate_processes_never_share_a_ticket(db: Database, settings: Settings) -> None:
    """4 OS processes, 3 windows each, against one SQLite file (or one PostgreSQL database), all calling at once.

    On SQLite a waiting process sleeps in its busy handler while the one holding the write lock may take it
    again at once, so one process can serve the whole queue: the proof that they contended is that every
    process was serving before any found the queue empty."""
    busy = await build_busy_hall(db, windows=WINDOWS)
    taken = await issue_waiting(db, busy, PROCESS_TICKETS, settings=settings)
    groups = [busy.window_ids[i::PROCESSES] for i in range(PROCESSES)]
    env = {k: v for k, v in os.environ.items() if k != 'PYTEST_CURRENT_TEST'}

    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            '-m',
            'tests.busyhall',
            db.url,
            str(busy.hall_id),
            ','.join(map(str, group)),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for group in groups
    ]
    try:
        for worker in workers:  # all imported and connected: start them together
            assert worker.stdout is not None
            line = await asyncio.wait_for(worker.stdout.readline(), 60)
            if line.strip() != b'ready':
                _, err = await worker.communicate()
                raise AssertionError(f'worker did not start: {line!r}\n{err.decode()}')
        outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate(b'go\n') for w in workers)), 120)
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()

    served: dict[int, list[int]] = {}
    runs = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err.decode()
        run = json.loads(out.decode().strip().splitlines()[-1])
        served.update({int(w): ids for w, ids in run['served'].items()})
        runs.append(run)
    assert sorted(served) == sorted(busy.window_ids)
    await assert_served_exactly_once(db, busy, taken, served)
    assert max(r['began'] for r in runs) < min(r['ended'] for r in runs), 'every process was calling at once'
    if not db.is_sqlite:  # row locks share the queue out; SQLite's one write lock may go to one process throughout
        processes_that_served = sum(1 for group in groups if any(served[w] for w in group))
        assert processes_that_served >= 2, 'the worker processes did not overlap'
