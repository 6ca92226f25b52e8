"""Which waiting ticket a window calls next, at the same cost with 1,000 people waiting as with none.

Within one service and one priority class every ticket has the same window tier and class, so the
calling order (`priority.order_key`: overdue first, then tier, class, queue time, id) ranks them by
queue time and id alone: the first of each (service, class) queue comes straight off the index
ix_ticket_pick with a LIMIT 1, and `order_key` orders those few heads (a window serves a handful of
services, three classes each). Sorting the whole waiting queue in SQL grew with the queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import or_, union_all
from sqlmodel import col, select

from app.clock import as_utc
from app.models.ticket import PriorityClass, Ticket, TicketStatus
from app.services.priority import Candidate, order_key

HEAD_COLUMNS = (Ticket.id, Ticket.service_id, Ticket.priority_class, Ticket.queued_at)


def heads_statement(hall_id: int, window_id: int, service_ids: Sequence[int], skipped: Collection[int] = ()) -> Any:
    """The first waiting ticket the window may call of each (service, class) queue: one index probe each.

    `skipped` leaves out tickets another transaction holds (PostgreSQL's SKIP LOCKED, done by hand)."""
    members = []
    for service_id in service_ids:
        for priority_class in PriorityClass:
            member = select(*HEAD_COLUMNS).where(
                Ticket.hall_id == hall_id,
                Ticket.status == TicketStatus.WAITING,
                Ticket.service_id == service_id,
                Ticket.priority_class == priority_class,
                or_(col(Ticket.target_window_id).is_(None), Ticket.target_window_id == window_id),
            )
            if skipped:
                member = member.where(col(Ticket.id).not_in(skipped))
            members.append(select(member.order_by(Ticket.queued_at, Ticket.id).limit(1).subquery()))
    return union_all(*members)


def first_in_order(heads: Sequence[Any], tiers: dict[int, int], *, now: dt.datetime, cap: dt.timedelta) -> int | None:
    """The id of the head the window calls first: `order_key`, with the window's tier for each head's service."""
    candidates = [Candidate(row[0], PriorityClass(row[2]), as_utc(row[3]), tiers[row[1]]) for row in heads]
    if not candidates:
        return None
    return min(candidates, key=lambda c: order_key(c, now=now, cap=cap)).ticket_id
