"""One transaction, then its events: services publish only what has been committed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from app.bus import Bus
from app.db import Database
from app.events import Event


@dataclass
class UnitOfWork:
    session: AsyncSession
    events: list[Event] = field(default_factory=list)

    def emit(self, event: Event) -> None:
        self.events.append(event)


@asynccontextmanager
async def unit_of_work(
    db: Database, bus: Bus, *, apply_first: Callable[[Event], object] | None = None
) -> AsyncIterator[UnitOfWork]:
    """Commit, then publish. `apply_first` sees each event before the bus does, so the caller's own
    in-memory state is current when it answers (the bus copy is then recognised and skipped)."""
    async with db.write_lock(), db.session() as session, session.begin():
        uow = UnitOfWork(session)
        yield uow
    for event in uow.events:
        if apply_first is not None:
            apply_first(event)
        await bus.publish(event)
