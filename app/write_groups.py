"""Group commit on SQLite: the short units of work that arrive together share one write transaction and one fsync.

Why: flat out, a take's COMMIT (an fsync, ~0.3 ms here, run on the event loop: app/db.py `CommitTimer`) was about a
tenth of the loop's time, and opening and ending each transaction (the pool's connection, BEGIN IMMEDIATE, COMMIT,
the pool's reset) cost about as much as the take's own statements.

A group holds the process's write lock and one BEGIN IMMEDIATE transaction. Each member (a unit of work) runs in a
SAVEPOINT of it, one at a time (the group's turn): a member that fails undoes its own statements only. The group
commits once a turn of the loop passes with no new member, once MAX_MEMBERS have joined, or as soon as another
writer waits for the process's write lock, so a group never holds the lock longer than its members keep coming. A
member is answered only after the COMMIT that makes it durable; what it asked to run after that COMMIT (its events)
runs then, in the order the members joined, by the group's own task, so a member whose request is cancelled while it
waits is still published. If the COMMIT fails, every member fails with its error, and none of them was answered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, AsyncTransaction

log = logging.getLogger(__name__)

MAX_MEMBERS = 16  # a group's members at most: the first one waits for the last one's work before it is answered

AfterCommit = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class Member:
    """One unit of work in a group: answered through `durable`, then its `after` steps run, in joining order."""

    durable: asyncio.Future[None]
    after: list[AfterCommit] = field(default_factory=list)


@dataclass(eq=False)
class WriteGroup:
    connection: AsyncConnection
    transaction: AsyncTransaction
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # one member's statements at a time
    joined: int = 0  # members that asked to join (the quiet rule watches it)
    closing: bool = False  # set by the committer, under the turn: no member joins after it
    members: list[Member] = field(default_factory=list)  # members whose work was kept, in order
    committer: asyncio.Task[None] | None = None
    started: bool = False  # the committer ran its first step (a task cancelled before it runs none of its code)


class WriteGroups:
    """The process's open write group, if any (SQLite only: PostgreSQL commits each transaction on its own)."""

    def __init__(self, engine: AsyncEngine, lock: asyncio.Lock, *, others_waiting: Callable[[], bool]) -> None:
        self._engine = engine
        self._lock = lock
        self._others_waiting = others_waiting
        self._open: WriteGroup | None = None  # the group a new member joins: never a closing or a full one
        self._starting = asyncio.Lock()
        self._committers: set[asyncio.Task[None]] = set()
        self.commits = 0  # groups committed (tests and benchmarks read it)

    @asynccontextmanager
    async def member(self, info: dict[str, Any]) -> AsyncIterator[tuple[AsyncSession, list[AfterCommit]]]:
        """A session in a SAVEPOINT of the open group (opened if none), and the list of steps to run after the
        COMMIT that makes it durable. Leaving the block releases the SAVEPOINT (or rolls back to it, if the block
        raised) and waits for that COMMIT; its error, if it fails, is raised here."""
        group = await self._join()
        member = Member(asyncio.get_running_loop().create_future())
        try:
            session = AsyncSession(
                bind=group.connection, join_transaction_mode='create_savepoint', expire_on_commit=False, info=info
            )
            try:
                async with session.begin():
                    yield session, member.after
            finally:
                await session.close()
            group.members.append(member)
        finally:
            group.turn.release()
            if group.committer is None:
                group.committer = asyncio.get_running_loop().create_task(self._commit_when_quiet(group, group.joined))
                self._committers.add(group.committer)
                group.committer.add_done_callback(partial(self._committer_done, group))
        await member.durable

    async def drain(self) -> None:
        """Wait for the groups' COMMITs under way (shutdown: no member's work is left unwritten)."""
        if self._committers:
            await asyncio.shield(asyncio.gather(*self._committers, return_exceptions=True))

    async def _join(self) -> WriteGroup:
        """The open group, with its turn held; a new one if none is open or it closed while this one waited."""
        while True:
            group = self._open
            if group is None:
                async with self._starting:
                    if self._open is None:
                        self._open = await self._start()
                continue
            group.joined += 1
            if group.joined >= MAX_MEMBERS:
                self._open = None  # full: the next member starts the next group (once this one has committed)
            await group.turn.acquire()
            if not group.closing:
                return group
            group.turn.release()

    async def _start(self) -> WriteGroup:
        await self._lock.acquire()
        try:
            connection = await self._engine.connect()
            try:
                transaction = await connection.begin()  # BEGIN IMMEDIATE (app/db.py)
            except BaseException:
                await connection.close()
                raise
        except BaseException:
            self._lock.release()
            raise
        return WriteGroup(connection, transaction)

    async def _commit_when_quiet(self, group: WriteGroup, seen: int) -> None:
        """Commit the group once it is quiet; `seen`: its members when this task was created (a turn ago)."""
        group.started = True
        failure: BaseException | None = None
        try:
            await self._quiet(group, seen)
            async with group.turn:  # after every member already waiting for its turn
                self._close(group)
            await group.transaction.commit()
            self.commits += 1
        except BaseException as error:  # a cancelled group (shutdown) fails its members too: none was answered
            failure = error
        await self._end(group, failure)
        if isinstance(failure, asyncio.CancelledError):
            raise failure

    async def _end(self, group: WriteGroup, failure: BaseException | None) -> None:
        """Roll back a group that did not commit, give its connection and the lock back, and answer its members."""
        try:
            if failure is not None:
                self._close(group)
                try:
                    await group.transaction.rollback()
                except Exception:
                    log.exception('rolling back a write group that did not commit')
        finally:
            try:
                await group.connection.close()
            finally:
                self._lock.release()
        for member in group.members:
            await _settle(member, failure)

    def _committer_done(self, group: WriteGroup, task: asyncio.Task[None]) -> None:
        """A committer cancelled before its first step ran none of its code: end its group in a task of its own."""
        self._committers.discard(task)
        if task.cancelled() and not group.started:
            self._close(group)
            self._track(asyncio.get_running_loop().create_task(self._end(group, asyncio.CancelledError())))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._committers.add(task)
        task.add_done_callback(self._committers.discard)

    def _close(self, group: WriteGroup) -> None:
        """No member joins the group from now on. Never leave a closing group open: a joiner would find its turn free,
        see it closing and try again, without ever letting the loop run."""
        group.closing = True
        if self._open is group:
            self._open = None

    async def _quiet(self, group: WriteGroup, seen: int) -> None:
        """Return once a turn of the loop passed with no new member, the group is full, or another writer waits."""
        while not (group.joined == seen or group.joined >= MAX_MEMBERS or self._others_waiting()):
            seen = group.joined
            await asyncio.sleep(0)  # one more turn: requests already under way may join


async def _settle(member: Member, failure: BaseException | None) -> None:
    """Run a durable member's after-commit steps, then answer it (its own step's error, if one failed)."""
    if failure is None:
        for step in member.after:
            try:
                await step()
            except Exception as error:
                failure = error
                break
    if member.durable.done():  # its request was cancelled meanwhile: nobody is waiting for the answer
        return
    if failure is None:
        member.durable.set_result(None)
    elif isinstance(failure, asyncio.CancelledError):
        member.durable.cancel()
    else:
        member.durable.set_exception(failure)
