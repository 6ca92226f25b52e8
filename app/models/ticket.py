"""Tickets, their every transition, and the per-day number counters."""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Any

from pydantic import field_validator
from sqlalchemy import JSON, Index, UniqueConstraint
from sqlmodel import SQLModel

from app.models.fields import internal, personal, public


class Channel(StrEnum):
    KIOSK = 'kiosk'
    ID_CARD = 'id_card'
    FACE = 'face'
    APPOINTMENT_QR = 'appointment_qr'
    MOBILE = 'mobile'
    STAFF = 'staff'


class TicketStatus(StrEnum):
    WAITING = 'waiting'
    CALLED = 'called'
    PARKED = 'parked'
    COMPLETED = 'completed'
    NO_SHOW = 'no_show'
    CANCELLED = 'cancelled'
    TRANSFERRED = 'transferred'  # 跨区通办: closed here, issued again by another hall (app/models/handoff.py)


ACTIVE_AT_WINDOW = (TicketStatus.CALLED,)
OPEN_STATUSES = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.PARKED)


class PriorityClass(StrEnum):
    """Lower rank is called first among tickets of the same window-service tier."""

    GREEN = 'green'
    APPOINTMENT = 'appointment'
    NORMAL = 'normal'

    @property
    def rank(self) -> int:
        return _RANKS[self]  # read per waiting ticket at every look-ahead: no dict built per call


_RANKS = {PriorityClass.GREEN: 0, PriorityClass.APPOINTMENT: 1, PriorityClass.NORMAL: 2}


MOBILE_PATTERN = r'(\+?86)?1[3-9]\d{9}'  # a mainland mobile number, optionally with +86


class TicketCreate(SQLModel):
    """What a kiosk, phone or staff member sends to take a number."""

    service_code: str = public(max_length=32)
    channel: Channel = public(default=Channel.KIOSK)
    id_number: str | None = personal(default=None, max_length=32)
    phone: str | None = personal(default=None, max_length=20)
    name: str | None = personal(default=None, max_length=50)
    disability: bool = public(default=False)
    pregnancy: bool = public(default=False)
    appointment_code: str | None = public(default=None, max_length=200)

    @field_validator('phone')
    @classmethod
    def _mobile_number(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(MOBILE_PATTERN, value.strip()):
            raise ValueError('请输入11位手机号 / a mainland mobile number (11 digits)')
        return value.strip() if value else value


class TicketBase(SQLModel):
    number: str = public(max_length=8)
    status: TicketStatus = public(default=TicketStatus.WAITING, max_length=16)
    channel: Channel = public(max_length=16)
    priority_class: PriorityClass = public(default=PriorityClass.NORMAL, max_length=16)
    priority_reason: str = internal(default='', max_length=32)
    taken_at: dt.datetime = public()
    queued_at: dt.datetime = public(index=True)
    called_at: dt.datetime | None = public(default=None)
    completed_at: dt.datetime | None = public(default=None)
    recall_count: int = public(default=0)
    transfer_count: int = public(default=0)


class Ticket(TicketBase, table=True):
    __table_args__ = (
        UniqueConstraint('hall_id', 'day', 'number'),
        Index('ix_ticket_queue', 'hall_id', 'status', 'service_id', 'queued_at'),
        Index('ix_ticket_pick', 'hall_id', 'status', 'service_id', 'priority_class', 'queued_at', 'id'),
        Index('ix_ticket_done', 'hall_id', 'status', 'completed_at'),
    )
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id')
    service_id: int = public(foreign_key='service_item.id')
    day: dt.date = public(index=True)
    code: str = internal(max_length=64, unique=True, index=True)
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id', index=True)
    appointment_id: int | None = internal(default=None, foreign_key='appointment.id')
    window_id: int | None = public(default=None, foreign_key='window.id')
    target_window_id: int | None = public(default=None, foreign_key='window.id')
    first_called_at: dt.datetime | None = public(default=None)
    account_id: int | None = internal(default=None, foreign_key='citizen_account.id', index=True)  # taken online
    awaiting_arrival: bool = public(default=False)  # a remote ticket until the citizen is confirmed in the hall
    come_now_at: dt.datetime | None = internal(default=None)  # when "please come now" went out
    comfort_at: dt.datetime | None = internal(default=None)  # when the long-wait comfort prompt went to its pages
    priority_set_by: str = internal(default='', max_length=64)  # the clerk who marked the green channel; '' for age


class TicketPublic(TicketBase):
    id: int
    code: str
    service_id: int
    window_id: int | None


class TicketEvent(SQLModel, table=True):
    """One row per transition, written in the transaction that made it."""

    __tablename__ = 'ticket_event'
    id: int | None = public(default=None, primary_key=True)
    ticket_id: int = public(foreign_key='ticket.id', index=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    kind: str = public(max_length=32)
    at: dt.datetime = public(index=True)
    actor: str = internal(default='system', max_length=64)
    window_id: int | None = public(default=None)
    service_id: int | None = public(default=None)
    from_status: str | None = public(default=None, max_length=16)
    to_status: str = public(max_length=16)
    reason: str = internal(default='', max_length=200)
    detail: dict[str, Any] = internal(default_factory=dict, sa_type=JSON)


class DailyCounter(SQLModel, table=True):
    """The last number issued per hall, day and prefix (A001, A002, ...)."""

    __tablename__ = 'daily_counter'
    hall_id: int = public(foreign_key='hall.id', primary_key=True)
    day: dt.date = public(primary_key=True)
    prefix: str = public(max_length=2, primary_key=True)
    last: int = public(default=0)
