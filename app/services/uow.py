"""One way to write: one transaction, then its events; services publish only what has been committed.

`unit_of_work` takes the process's SQLite write lock (FIFO hand-over, app/db.py), opens one session and
one transaction, commits, and only then publishes the events the work emitted. The lock is not
re-entrant: code running inside a unit of work writes through `uow.session` (the services' `*_in(s, ...)`
helpers), never through another unit of work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus
from app.clock import utcnow
from app.db import Database
from app.events import Event


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
    db: Database, bus: Bus | None = None, *, apply_first: Callable[[Event], object] | None = None
) -> AsyncIterator[UnitOfWork]:
    """Commit, then publish. `apply_first` sees each event before the bus does, so the caller's own
    in-memory state is current when it answers (the bus copy is then recognised and skipped).
    Without a bus the work writes only; emitting then is a programming error."""
    async with db.write_lock(), db.session() as session, session.begin():
        uow = UnitOfWork(session, bus)
        yield uow
    for event in uow.events:
        if apply_first is not None:
            apply_first(event)
        assert bus is not None  # emit() refuses events without one
        await bus.publish(event)


class Service:
    """What every writing service holds (database, bus, clock) and its one way to write, `_transaction()`.

    A service that publishes nothing passes no bus; one that keeps in-memory state current before the bus
    does (the queue's live state) answers `_apply_first`.
    """

    def __init__(self, db: Database, bus: Bus | None = None, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.bus = bus
        self.clock = clock

    def _apply_first(self) -> Callable[[Event], object] | None:
        return None

    def _transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return unit_of_work(self.db, self.bus, apply_first=self._apply_first())
