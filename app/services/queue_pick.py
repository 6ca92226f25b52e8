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

from sqlalchemy import bindparam, or_
from sqlmodel import col, select

from app.clock import as_utc
from app.models.hall import ServiceItem, WindowService
from app.models.ticket import PriorityClass, Ticket, TicketStatus
from app.services.priority import Candidate, order_key


def _head(priority_class: PriorityClass) -> Any:
    """The id of the first waiting ticket of the outer row's service in this class (one index probe)."""
    return (
        select(Ticket.id)
        .where(
            Ticket.hall_id == bindparam('hall_id'),
            Ticket.status == TicketStatus.WAITING,
            Ticket.service_id == WindowService.service_id,
            Ticket.priority_class == priority_class,
            or_(col(Ticket.target_window_id).is_(None), Ticket.target_window_id == bindparam('window_id')),
            col(Ticket.id).not_in(bindparam('skipped', expanding=True)),
        )
        .order_by(Ticket.queued_at, Ticket.id)
        .limit(1)
        .correlate(WindowService)
        .scalar_subquery()
    )


# Built once, bound per call: per service the window serves, its tier and the head of each class queue.
# `skipped` leaves out tickets another transaction holds (PostgreSQL's SKIP LOCKED, done by hand).
HEADS = (
    select(WindowService.service_id, WindowService.priority, Ticket.id, Ticket.priority_class, Ticket.queued_at)
    .join(Ticket, col(Ticket.id).in_([_head(priority_class) for priority_class in PriorityClass]))
    .where(WindowService.window_id == bindparam('window_id'))
)

# The head picked, with its service, locked if no other transaction holds it and still waiting.
PICKED = (
    select(Ticket, ServiceItem)
    .join(ServiceItem, col(ServiceItem.id) == Ticket.service_id)
    .where(Ticket.id == bindparam('ticket_id'), Ticket.status == TicketStatus.WAITING)
    .with_for_update(skip_locked=True, of=Ticket)  # type: ignore[arg-type]
)


def first_in_order(heads: Sequence[Any], *, now: dt.datetime, cap: dt.timedelta) -> int | None:
    """The id of the head the window calls first: `order_key`, with the window's tier for each head's service.
    A row of `heads` is (service id, tier, ticket id, priority class, queued at), as HEADS reads it."""
    candidates = [Candidate(row[2], PriorityClass(row[3]), as_utc(row[4]), row[1]) for row in heads]
    if not candidates:
        return None
    return min(candidates, key=lambda c: order_key(c, now=now, cap=cap)).ticket_id
