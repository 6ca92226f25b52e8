"""Appointments booked ahead; checking in inside the slot earns the appointment priority class."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlmodel import SQLModel

from app.models.fields import internal, public


class AppointmentStatus(StrEnum):
    BOOKED = 'booked'
    CHECKED_IN = 'checked_in'
    CANCELLED = 'cancelled'
    MISSED = 'missed'


class AppointmentBase(SQLModel):
    slot_start: dt.datetime = public()
    slot_end: dt.datetime = public()


class AppointmentCreate(AppointmentBase):
    service_code: str = public(max_length=32)


class Appointment(AppointmentBase, table=True):
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id', index=True)
    service_id: int = public(foreign_key='service_item.id')
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id')
    account_id: int | None = internal(default=None, foreign_key='citizen_account.id', index=True)  # booked online
    cancelled_at: dt.datetime | None = internal(default=None)
    reference: str = internal(max_length=32, unique=True, index=True)
    status: AppointmentStatus = public(default=AppointmentStatus.BOOKED, max_length=16)
    ticket_id: int | None = internal(default=None)
    created_at: dt.datetime = internal()
    reminded_at: dt.datetime | None = internal(default=None)  # when the day-before reminder went out


class AppointmentPublic(AppointmentBase):
    id: int
    reference: str
    status: AppointmentStatus
