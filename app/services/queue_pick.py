"""Which waiting ticket a window calls next, at the same cost with 1,000 people waiting as with none.

Within one service and one priority class every ticket has the same window tier and class, so the
calling order (`priority.order_key`: overdue first, then tier, class, queue time, id) ranks them by
queue time and id alone: the first of each (service, class) queue comes straight off the index
ix_ticket_pick with a LIMIT 1, and `order_key` orders those few heads (a window serves a handful of
services, three classes each). Sorting the whole waiting queue in SQL grew with the queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, or_, select

from app.clock import as_utc
from app.models.hall import ServiceItem, WindowService
from app.models.rows import columns_of, loaded, width
from app.models.ticket import PriorityClass, Ticket, TicketStatus
from app.services.priority import Candidate, order_key

_TICKET = Ticket.__table__.c  # type: ignore[attr-defined]  # Core columns: the session runs these without the ORM
_LINK = WindowService.__table__  # type: ignore[attr-defined]


def _head(priority_class: PriorityClass) -> Any:
    """The id of the first waiting ticket of the outer row's service in this class (one index probe)."""
    return (
        select(_TICKET.id)
        .where(
            _TICKET.hall_id == bindparam('hall_id'),
            _TICKET.status == TicketStatus.WAITING,
            _TICKET.service_id == _LINK.c.service_id,
            _TICKET.priority_class == priority_class,
            or_(_TICKET.target_window_id.is_(None), _TICKET.target_window_id == bindparam('window_id')),
            _TICKET.id.not_in(bindparam('skipped', expanding=True)),
        )
        .order_by(_TICKET.queued_at, _TICKET.id)
        .limit(1)
        .correlate(_LINK)
        .scalar_subquery()
    )


# Built once, bound per call: per service the window serves, its tier and the head of each class queue.
# `skipped` leaves out tickets another transaction holds (PostgreSQL's SKIP LOCKED, done by hand).
HEADS = (
    select(_LINK.c.service_id, _LINK.c.priority, _TICKET.id, _TICKET.priority_class, _TICKET.queued_at)
    .join_from(_LINK, Ticket.__table__, _TICKET.id.in_([_head(priority_class) for priority_class in PriorityClass]))  # type: ignore[attr-defined]
    .where(_LINK.c.window_id == bindparam('window_id'))
)

# The head picked, with its service (every column of both, for app/models/rows.py `loaded`), locked if no other
# transaction holds it and still waiting.
PICKED = (
    select(*columns_of(Ticket, ServiceItem))
    .join_from(Ticket.__table__, ServiceItem.__table__, ServiceItem.__table__.c.id == _TICKET.service_id)  # type: ignore[attr-defined]
    .where(_TICKET.id == bindparam('ticket_id'), _TICKET.status == TicketStatus.WAITING)
    .with_for_update(skip_locked=True, of=Ticket.__table__)  # type: ignore[attr-defined]
)


def picked(row: Sequence[Any]) -> tuple[Ticket, ServiceItem]:
    """The ticket and its service of a PICKED row."""
    return loaded(Ticket, row), loaded(ServiceItem, row, width(Ticket))


def first_in_order(heads: Sequence[Any], *, now: dt.datetime, cap: dt.timedelta) -> int | None:
    """The id of the head the window calls first: `order_key`, with the window's tier for each head's service.
    A row of `heads` is (service id, tier, ticket id, priority class, queued at), as HEADS reads it."""
    candidates = [Candidate(row[2], PriorityClass(row[3]), as_utc(row[4]), row[1]) for row in heads]
    if not candidates:
        return None
    return min(candidates, key=lambda c: order_key(c, now=now, cap=cap)).ticket_id
