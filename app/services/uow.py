"""One transaction, then its events: services publish only what has been committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
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
async def unit_of_work(db: Database, bus: Bus) -> AsyncIterator[UnitOfWork]:
    async with db.session() as session, session.begin():
        uow = UnitOfWork(session)
        yield uow
    for event in uow.events:
        await bus.publish(event)
