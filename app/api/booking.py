"""Booking bodies (预约) for the routes in app/api/routes.py: what a slot and a booking look like over the API."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from app.services.booking import BookingView
from app.services.booking_slots import Slot
from app.services.queue import SERVICE_CODE_MAX


class SlotOut(BaseModel):
    start: dt.datetime
    end: dt.datetime
    capacity: int = Field(description='places open to bookings in this slot')
    available: int = Field(description='places still free')

    @classmethod
    def of(cls, slot: Slot) -> SlotOut:
        return cls(start=slot.start, end=slot.end, capacity=slot.capacity, available=slot.available)


class BookingIn(BaseModel):
    service_code: str = Field(min_length=1, max_length=SERVICE_CODE_MAX)
    start: dt.datetime = Field(description="a slot's start as listed by /slots (a time without offset is hall time)")


class MoveIn(BaseModel):
    start: dt.datetime


class BookingOut(BaseModel):
    reference: str = Field(description='the booking reference (typed at a kiosk if the QR cannot be scanned)')
    service_code: str
    service_name: str
    start: dt.datetime
    end: dt.datetime
    status: str = Field(description='booked, checked_in, cancelled or missed')
    qr: str = Field(description="the signed payload of the booking's QR code, checked in at the kiosk")

    @classmethod
    def of(cls, view: BookingView) -> BookingOut:
        return cls(
            reference=view.reference,
            service_code=view.service_code,
            service_name=view.service_name,
            start=view.start,
            end=view.end,
            status=view.status,
            qr=view.qr,
        )
