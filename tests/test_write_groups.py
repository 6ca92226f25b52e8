"""app/write_groups.py: short SQLite writes that arrive together share one transaction and one COMMIT (one fsync);
each keeps its own SAVEPOINT, is answered only once that COMMIT is durable, and its events are published then."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import event
from sqlmodel import select

from app.bus import Bus, Handler, Subscription
from app.db import Database
from app.events import Event, SessionEnded
from app.models.security import RateCounter
from app.services.errors import Conflict, StorageUnavailable
from app.services.uow import unit_of_work
from app.storage import Failure
from app.write_groups import MAX_MEMBERS

LATER = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


class SeeingBus(Bus):
    """Records each published event with the counters a fresh reader (another connection) saw at that moment."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.published: list[tuple[int, list[str]]] = []

    async def publish(self, event: Event) -> None:
        assert isinstance(event, SessionEnded)
        async with self.db.read_session() as s:
            keys = sorted((await s.execute(select(RateCounter.key))).scalars())
        self.published.append((event.session_id, keys))

    def subscribe(self, handler: Handler, *types: type[Event], name: str = '') -> Subscription:
        raise NotImplementedError

    def unsubscribe(self, subscription: Subscription) -> None:
        raise NotImplementedError


async def keys(db: Database) -> list[str]:
    async with db.read_session() as s:
        return sorted((await s.execute(select(RateCounter.key))).scalars())


def writer(db: Database, bus: Bus | None, n: int, *, refuse: bool = False) -> Callable[[], Awaitable[None]]:
    """A short unit of work (as a take is) storing counter `k<n>` and emitting event n; `refuse` fails it after its
    write reached the database (flushed), as a rule refusing late in a take would."""

    async def write() -> None:
        async with unit_of_work(db, bus, short=True) as uow:
            uow.session.add(RateCounter(key=f'k{n}', count=n, expires_at=LATER))
            if bus is not None:
                uow.emit(SessionEnded(hall_id=1, session_id=n))
            await uow.session.flush()
            if refuse:
                raise Conflict('appointment_used')  # any rule's refusal

    return write


async def together(*writes: Callable[[], Awaitable[None]]) -> list[BaseException | None]:
    return await asyncio.gather(*(w() for w in writes), return_exceptions=True)


async def test_short_writes_that_arrive_together_share_one_commit_and_are_answered_after_it(
    sqlite_db: Database, hops: collections.Counter[str]
) -> None:
    bus = SeeingBus(sqlite_db)
    await writer(sqlite_db, None, 0)()  # the pools' first connections are opened here
    await keys(sqlite_db)
    assert sqlite_db.groups is not None
    commits = sqlite_db.groups.commits
    hops.clear()
    assert await together(*(writer(sqlite_db, bus, n) for n in range(1, 9))) == [None] * 8
    assert sqlite_db.groups.commits == commits + 1  # eight takes, one COMMIT
    every = ['k0'] + [f'k{n}' for n in range(1, 9)]
    assert sorted(bus.published) == [(n, every) for n in range(1, 9)]  # each published once all were durable
    assert [n for n, _ in bus.published] == list(range(1, 9))  # in the order they joined
    assert hops == {}  # BEGIN, SAVEPOINTs, RELEASEs and COMMIT all on the loop's thread (a quick disk)
    assert not sqlite_db._write_lock.locked()  # type: ignore[union-attr]


async def test_a_refused_member_undoes_only_its_own_work(sqlite_db: Database) -> None:
    bus = SeeingBus(sqlite_db)
    results = await together(
        writer(sqlite_db, bus, 1), writer(sqlite_db, bus, 2, refuse=True), writer(sqlite_db, bus, 3)
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Conflict)
    assert await keys(sqlite_db) == ['k1', 'k3']
    assert sorted(n for n, _ in bus.published) == [1, 3]  # the refused one's event never went out


async def test_a_failed_commit_fails_every_member_and_stores_and_publishes_nothing(sqlite_db: Database) -> None:
    bus = SeeingBus(sqlite_db)
    await writer(sqlite_db, None, 0)()
    failures = iter([sqlite3.OperationalError('database or disk is full')])

    @event.listens_for(sqlite_db.engine.sync_engine, 'commit')
    def full_disk(_connection: Any) -> None:
        failure = next(failures, None)
        if failure is not None:
            raise failure

    results = await together(*(writer(sqlite_db, bus, n) for n in range(1, 4)))
    assert all(isinstance(r, StorageUnavailable) for r in results), results
    assert await keys(sqlite_db) == ['k0']
    assert bus.published == []
    assert sqlite_db.health.failure is Failure.FULL
    assert not sqlite_db.groups._open  # type: ignore[union-attr]
    assert not sqlite_db._write_lock.locked()  # type: ignore[union-attr]
    await writer(sqlite_db, bus, 4)()  # the disk has room again: the next take is stored
    assert await keys(sqlite_db) == ['k0', 'k4']


async def test_a_member_whose_request_is_cancelled_while_its_group_commits_is_still_stored_and_published(
    sqlite_db: Database,
) -> None:
    bus = SeeingBus(sqlite_db)
    worked = asyncio.Event()

    async def take() -> None:
        async with unit_of_work(sqlite_db, bus, short=True) as uow:
            uow.session.add(RateCounter(key='k1', count=1, expires_at=LATER))
            uow.emit(SessionEnded(hall_id=1, session_id=1))
        raise AssertionError('never answered: cancelled while its group commits')

    async def done_then_cancelled() -> None:
        request = asyncio.get_running_loop().create_task(take())
        original = sqlite_db.groups._commit_when_quiet  # type: ignore[union-attr]

        async def commit(group: Any, seen: int) -> None:
            worked.set()
            request.cancel()  # the client went away after the work, before the COMMIT
            await original(group, seen)

        sqlite_db.groups._commit_when_quiet = commit  # type: ignore[method-assign,union-attr]
        with pytest.raises(asyncio.CancelledError):
            await request

    await done_then_cancelled()
    assert worked.is_set()
    await sqlite_db.groups.drain()  # type: ignore[union-attr]
    for _ in range(10):
        await asyncio.sleep(0)
    assert await keys(sqlite_db) == ['k1']
    assert bus.published == [(1, ['k1'])]


async def test_a_group_commits_as_soon_as_another_writer_waits_for_the_lock(sqlite_db: Database) -> None:
    """Takes arriving turn after turn would keep a group open up to MAX_MEMBERS; a long write (a job's, an admin's)
    waiting for the lock closes it at the next turn instead of waiting for the stream to stop."""
    await writer(sqlite_db, None, 0)()
    finished: list[str] = []

    async def stream() -> None:
        for n in range(1, MAX_MEMBERS):
            loop = asyncio.get_running_loop()
            loop.create_task(writer(sqlite_db, None, n)()).add_done_callback(lambda _, n=n: finished.append(f'k{n}'))
            await asyncio.sleep(0)

    async def long_write() -> None:
        await asyncio.sleep(0)
        async with unit_of_work(sqlite_db) as uow:
            uow.session.add(RateCounter(key='long', count=1, expires_at=LATER))
        finished.append('long')

    await asyncio.gather(stream(), long_write())
    while len(finished) < MAX_MEMBERS:
        await asyncio.sleep(0.01)
    assert finished.index('long') < 4  # it waited for the open group only, not for the takes after it
    assert len(await keys(sqlite_db)) == MAX_MEMBERS + 1


async def test_a_group_takes_at_most_max_members(sqlite_db: Database) -> None:
    await writer(sqlite_db, None, 0)()
    commits = sqlite_db.groups.commits  # type: ignore[union-attr]
    count = 2 * MAX_MEMBERS + 1
    assert await together(*(writer(sqlite_db, None, n) for n in range(1, count + 1))) == [None] * count
    assert sqlite_db.groups.commits - commits == 3  # type: ignore[union-attr]
    assert len(await keys(sqlite_db)) == count + 1


async def test_the_last_group_is_committed_when_the_database_is_disposed(sqlite_db: Database) -> None:
    request = asyncio.get_running_loop().create_task(writer(sqlite_db, None, 1)())
    while not sqlite_db.groups._committers:  # type: ignore[union-attr]
        await asyncio.sleep(0)
    await sqlite_db.dispose()  # shutdown while the take waits for its COMMIT
    await request
    fresh = Database(sqlite_db.url)
    try:
        assert await keys(fresh) == ['k1']
    finally:
        await fresh.dispose()


async def test_a_group_cancelled_before_its_commit_fails_its_members_and_the_next_write_goes_through(
    sqlite_db: Database,
) -> None:
    """Shutdown cancels a group's task before its COMMIT, even before its first step: its member is not stored and
    fails, the group's connection and the lock are given back, and the next write is stored."""
    await writer(sqlite_db, None, 0)()
    groups = sqlite_db.groups
    assert groups is not None
    request = asyncio.get_running_loop().create_task(writer(sqlite_db, None, 1)())
    while not groups._committers:
        await asyncio.sleep(0)
    (committer,) = groups._committers
    committer.cancel()  # before its first step: none of its own code runs
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(request, timeout=10)
    await asyncio.wait_for(writer(sqlite_db, None, 2)(), timeout=10)
    assert await keys(sqlite_db) == ['k0', 'k2']
    assert not sqlite_db._write_lock.locked()  # type: ignore[union-attr]
