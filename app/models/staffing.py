"""A staffing move the manager applied: stored so it outlives the process and ends at its end hour."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON
from sqlmodel import SQLModel

from app.models.fields import internal, public


class StaffingMove(SQLModel, table=True):
    """One window re-assigned for a while: what it served before and during, who moved it, why, until when.

    `ended_at` is empty while the move is in force; the end (at `ends_at`, or a manager's early restore)
    gives the window `before` back when it still serves `after`.
    """

    __tablename__ = 'staffing_move'
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = internal(foreign_key='hall.id', index=True)
    window_id: int = public(foreign_key='window.id', index=True)
    before: dict[str, int] = internal(default_factory=dict, sa_type=JSON)  # service code -> tier
    after: dict[str, int] = internal(default_factory=dict, sa_type=JSON)
    target_code: str = public(max_length=32)
    reason: str = internal(default='', max_length=200)
    actor: str = internal(max_length=64)
    started_at: dt.datetime = internal()
    ends_at: dt.datetime = internal(index=True)
    ended_at: dt.datetime | None = internal(default=None, index=True)
    ended_by: str = internal(default='', max_length=64)
