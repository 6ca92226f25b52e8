"""One way to write: one transaction, then its events; services publish only what has been committed.

`unit_of_work` opens one session, takes the process's SQLite write lock (FIFO hand-over, app/db.py) for its one
transaction, commits, lets the lock go before the session closes (the transaction has ended; a close may wait for
the loop), and only then publishes the events the work emitted. A short one on SQLite (the queue's commands) is a
member of a write group instead (app/write_groups.py): its own SAVEPOINT in a transaction shared with the short
writes that arrive with it, one COMMIT for all, and its events published once that COMMIT is durable. The lock is
not re-entrant: code running inside a unit of work writes through `uow.session` (the services' `*_in(s, ...)`
helpers), never through another unit of work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus
from app.db import Database
from app.events import Event

if TYPE_CHECKING:
    from app.services.deps import Deps  # deps builds Limits, which write through this module
    from app.services.hall_rules import HallRules


@dataclass
class UnitOfWork:
    session: AsyncSession
    bus: Bus | None = None
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        if self.bus is None:
            raise RuntimeError(f'{type(event).__name__} emitted by a unit of work that has no bus to publish it')
        self.events.append(event)


@asynccontextmanager
async def unit_of_work(
    db: Database,
    bus: Bus | None = None,
    *,
    apply_first: Callable[[Event], object] | None = None,
    short: bool = False,
) -> AsyncIterator[UnitOfWork]:
    """Commit, then publish. `apply_first` sees each event before the bus does, so the caller's own
    in-memory state is current when it answers (the bus copy is then recognised and skipped).
    Without a bus the work writes only; emitting then is a programming error. `short`: see Database.session."""
    if short and db.groups is not None:
        async with db.grouped_write() as (session, after_commit):
            uow = UnitOfWork(session, bus)
            yield uow
            if uow.events:
                after_commit.append(partial(_publish, uow.events, bus, apply_first))
    else:
        async with db.session(short=short) as session, db.write_lock(), session.begin():
            uow = UnitOfWork(session, bus)
            yield uow
        await _publish(uow.events, bus, apply_first)
    # One turn of the loop after each unit of work, outside the lock, so that a task writing in a loop (a sweep, a
    # batch, one window's calls) lets every other task run between, even where its write never suspended.
    await asyncio.sleep(0)


async def _publish(events: list[Event], bus: Bus | None, apply_first: Callable[[Event], object] | None) -> None:
    for event in events:
        if apply_first is not None:
            apply_first(event)
        assert bus is not None  # emit() refuses events without one
        await bus.publish(event)


class Service:
    """What every service holds (app/services/deps.py `Deps`: database, bus, settings, cipher, limits, hall,
    clock, the hall rules in force) and its one way to write, `_transaction()`.

    Every service is built as `XService(deps, <its own collaborators>)`. A service that keeps in-memory state
    current before the bus does (the queue's live state) answers `_apply_first`.
    """

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.db = deps.db
        self.bus = deps.bus
        self.settings = deps.settings
        self.cipher = deps.cipher
        self.limits = deps.limits
        self.hall_id = deps.hall_id
        self.clock = deps.clock

    @property
    def rules(self) -> HallRules:
        """The hall rules in force now (read at each decision: an admin may change them at any time)."""
        return self.deps.rules.current

    short_transactions = False  # True where every write is a few indexed statements (Database.session(short=True))

    def _apply_first(self) -> Callable[[Event], object] | None:
        return None

    def _transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.db, self.bus, apply_first=self._apply_first(), short=self.short_transactions)
