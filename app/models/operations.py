"""What the hall records while it runs: device and window events, alerts, and hourly arrival history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, UniqueConstraint, text
from sqlmodel import SQLModel

from app.models.fields import internal, public


class DeviceEvent(SQLModel, table=True):
    """Every change a device reports (health, usage, seat, help): the source of replay, MTTR and usage rates."""

    __tablename__ = 'device_event'
    __table_args__ = (Index('ix_device_event_device_at', 'device_id', 'at'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    device_id: int = public(foreign_key='device.id')
    at: dt.datetime = public(index=True)
    kind: str = public(max_length=32)
    detail: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)


class WindowEvent(SQLModel, table=True):
    """A window opened, paused or closed, or given other services: replay shows a window's state at any minute.

    `from_state` keeps the state before the change, so the state before a day's first event is known too.
    """

    __tablename__ = 'window_event'
    __table_args__ = (Index('ix_window_event_hall_at', 'hall_id', 'at'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id')
    window_id: int = public(foreign_key='window.id', index=True)
    at: dt.datetime = public()
    kind: str = public(max_length=16)  # 'state' or 'services'
    from_state: str = public(max_length=16)
    to_state: str = public(max_length=16)
    detail: dict[str, Any] = public(default_factory=dict, sa_type=JSON)  # services: {code: tier}
    actor: str = internal(default='', max_length=64)


class AlertBase(SQLModel):
    kind: str = public(max_length=32)
    severity: str = public(default='warning', max_length=16)
    target: str = public(default='', max_length=64)
    message: str = public(max_length=300)


class Alert(AlertBase, table=True):
    """An open alert is unique per `key` (kind + target), so a condition that persists raises it once.

    The partial unique index holds that even when two processes evaluate the same rule at once.
    """

    __table_args__ = (
        Index(
            'uq_alert_open_key',
            'hall_id',
            'key',
            unique=True,
            sqlite_where=text('resolved_at IS NULL'),
            postgresql_where=text('resolved_at IS NULL'),
        ),
    )

    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    key: str = internal(max_length=128, index=True)
    raised_at: dt.datetime = public(index=True)
    acknowledged_at: dt.datetime | None = public(default=None)
    acknowledged_by: str | None = internal(default=None, max_length=64)
    resolved_at: dt.datetime | None = public(default=None)


class AlertPublic(AlertBase):
    id: int
    raised_at: dt.datetime
    acknowledged_at: dt.datetime | None
    resolved_at: dt.datetime | None


class ArrivalHistory(SQLModel, table=True):
    """Arrivals per service and hour: a year of it (seeded, then rolled up daily) feeds the peak forecast."""

    __tablename__ = 'arrival_history'
    __table_args__ = (UniqueConstraint('hall_id', 'service_id', 'day', 'hour'),)
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id')
    service_id: int = public(foreign_key='service_item.id')
    day: dt.date = public(index=True)
    hour: int = public(ge=0, le=23)
    arrivals: int = public(default=0, ge=0)
    mean_handling_minutes: float | None = public(default=None)
