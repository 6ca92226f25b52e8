"""What the queue service's parts share: its dependencies, its one transaction shape, the live queue state
and the look-ups both commands and window administration make.

`QueueService` (app/services/queue.py) is built from these parts: commands there, read models in
app/services/queue_views.py, window administration in app/services/windows_admin.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import select

from app.bus import Bus
from app.events import Event
from app.models.hall import ServiceItem, Window
from app.models.ticket import Ticket
from app.services.deps import Deps
from app.services.errors import NotFound
from app.services.live_loading import read_live_queue
from app.services.live_queue import LiveQueue
from app.services.uow import Service

# Built once, bound per call: a take, call or complete runs these on every request, and a statement built anew
# costs its construction and its cache key each time (~35 us a simple one), a built one neither.
WINDOW = select(Window).where(Window.id == bindparam('window_id'), Window.hall_id == bindparam('hall_id'))
WINDOW_LOCKED = WINDOW.with_for_update()
_ROW_UPDATES: dict[tuple[type, tuple[str, ...]], Any] = {}


def _row_update(model: type[Ticket] | type[Window], keys: tuple[str, ...]) -> Any:
    """UPDATE <model's table> SET <keys> WHERE id = :row_id, built at the first use of each (model, columns).
    A Core statement (the table's columns, not the model's attributes): the session runs it without the ORM's
    bulk-update machinery, which has nothing to synchronise here."""
    statement = _ROW_UPDATES.get((model, keys))
    if statement is None:
        table = model.__table__  # type: ignore[attr-defined]
        statement = _ROW_UPDATES[(model, keys)] = (
            update(table)
            .where(table.c.id == bindparam('row_id'))
            .values({key: bindparam(f'v_{key}', type_=table.c[key].type) for key in keys})
        )
    return statement


class QueueCore(Service):
    """The queue service's dependencies and the live queue state, built once per process (`start_live`)."""

    bus: Bus
    short_transactions = True  # take, call, complete...: a handful of indexed statements each

    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.live: LiveQueue | None = None
        self._service_lookups: dict[bool, Any] = {}  # take_ticket's statement per `open_only`, built at first use

    def _apply_first(self) -> Callable[[Event], object] | None:
        return self.live.apply if self.live else None

    @property
    def fairness_cap(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.rules.fairness_cap_minutes)

    # ---- the live queue state ----------------------------------------------------------------

    async def live_state(self, s: AsyncSession) -> LiveQueue:
        """The queues as the database has them now (the starting point of a LiveQueue fed by events)."""
        return await read_live_queue(
            s, hall_id=self.hall_id, clock=self.clock, cap_minutes=lambda: self.rules.fairness_cap_minutes
        )

    async def start_live(self) -> LiveQueue:
        """Keep the queues in memory, fed by the bus, so estimates cost no query (and pages read no DB)."""
        self.live = await self.load_live()
        self.live.attach(self.bus)
        return self.live

    async def resync_live(self) -> None:
        """Re-read the live queues from the database (the bus came back after an outage)."""
        if self.live is not None:
            self.live.resync(await self.load_live())

    async def load_live(self) -> LiveQueue:
        async with self.db.read_session() as s:
            return await self.live_state(s)

    # ---- look-ups ----------------------------------------------------------------------------

    async def _service_by_code(self, s: AsyncSession, code: str) -> ServiceItem:
        service = (await s.execute(select(ServiceItem).where(ServiceItem.code == code))).scalar_one_or_none()
        if service is None:
            raise NotFound('unknown_service', text='unknown_service.code', code_value=code)
        return service

    async def _window(self, s: AsyncSession, window_id: int, *, lock: bool = False) -> Window:
        bound = {'window_id': window_id, 'hall_id': self.hall_id}
        window = (await s.execute(WINDOW_LOCKED if lock else WINDOW, bound)).scalar_one_or_none()
        if window is None:
            raise NotFound('unknown_window', window_id=window_id)
        return window


async def write_row(s: AsyncSession, row: Ticket | Window, **values: Any) -> None:
    """Change a loaded, locked ticket or window with one UPDATE by its id, and give the object the new values as
    committed: every call and complete skips the ORM's flush (its change tracking around the same UPDATE). The row
    may be one the session holds or one read by Core (app/models/rows.py `loaded`): the session never flushes it."""
    bound = {f'v_{key}': value for key, value in values.items()}
    await s.execute(_row_update(type(row), tuple(values)), {**bound, 'row_id': row.id})
    for key, value in values.items():
        set_committed_value(row, key, value)
