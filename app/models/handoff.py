"""跨区通办 of a ticket: the durable request one hall's process writes and the other hall's process applies.

Several halls share one database, but each hall's process owns its queue and its numbers, so the source never
writes into the target's queue: it closes its own ticket and leaves this row; the target's process issues the new
ticket and fills in `new_ticket_id` in one transaction. A row is applied at most once (its status is checked under
its row lock), so a retry or a second process of the target hall never makes a second ticket. The source hall's
process then announces the applied row to its own pages once (`announced_at`, also set under the row's lock).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import SQLModel

from app.models.fields import internal, public


class HandoffStatus(StrEnum):
    PENDING = 'pending'  # written by the source hall; the target's process has not applied it yet
    APPLIED = 'applied'  # the target hall issued the new ticket


class TicketHandoff(SQLModel, table=True):
    __tablename__ = 'ticket_handoff'
    id: int | None = public(default=None, primary_key=True)
    from_hall_id: int = public(foreign_key='hall.id')
    from_ticket_id: int = public(foreign_key='ticket.id', unique=True)  # one handoff per ticket, ever
    to_hall_id: int = public(foreign_key='hall.id', index=True)
    to_service_id: int = public(foreign_key='service_item.id')
    status: HandoffStatus = public(default=HandoffStatus.PENDING, max_length=16, index=True)
    reason: str = internal(default='', max_length=200)
    actor: str = internal(default='system', max_length=64)
    requested_at: dt.datetime = public()
    applied_at: dt.datetime | None = public(default=None)
    new_ticket_id: int | None = public(default=None, foreign_key='ticket.id', unique=True)
    announced_at: dt.datetime | None = public(default=None, index=True)  # the source hall's pages were told it applied
