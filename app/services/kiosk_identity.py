"""Who is at the kiosk: an ID number validated (GB 11643) into age and the elderly flag, from a card at
the kiosk's own reader, a citizen's stored number (刷脸, appointments), or an appointment's reference.

Privacy: the full ID number lives only in the server-side `Identity` (`repr=False`); screens show
`Identity.masked`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import select

from app.db import Database
from app.events import CardRead
from app.models.appointment import Appointment, AppointmentStatus
from app.models.device import DeviceKind
from app.models.hall import ServiceItem
from app.models.people import Citizen
from app.security import codes
from app.security.crypto import FieldCipher
from app.security.masking import mask_id_number
from app.services.errors import Conflict, Invalid, NotFound
from app.services.identity import parse_id_number
from app.services.kiosk_devices import CardClaim, KioskDevice, KioskDevices

APPOINTMENT_QR = 'HT1.'  # a signed appointment QR payload starts so; anything else is a typed reference


@dataclass(frozen=True)
class Identity:
    """Who is at the kiosk. Only `masked`, `age` and `elderly` are ever shown."""

    id_number: str = field(repr=False)
    masked: str
    age: int
    elderly: bool
    name: str = field(default='', repr=False)
    citizen_id: int | None = None


def identify(
    raw_id_number: str, *, today: dt.date, elderly_age: int, name: str = '', citizen_id: int | None = None
) -> Identity:
    """Validate an ID number and derive age and the elderly flag; Invalid on any fault."""
    facts = parse_id_number(raw_id_number.strip().upper(), today=today)
    age = facts.age_on(today)
    return Identity(
        id_number=facts.number,
        masked=mask_id_number(facts.number),
        age=age,
        elderly=age >= elderly_age,
        name=name.strip(),
        citizen_id=citizen_id,
    )


def claim_card(kiosk: KioskDevice, event: CardRead, devices: KioskDevices | None) -> CardClaim:
    """A card at this kiosk's own reader: the full number is claimed from the reader (once)."""
    reader = kiosk.attached(DeviceKind.ID_READER)
    if event.device.code != reader:
        raise Invalid('foreign_reader')
    if not event.valid:
        raise (
            Invalid('invalid_card', event.reason) if event.reason else Invalid('invalid_card')
        )  # the reader's own words
    card = devices.take_card(reader) if devices is not None else None
    if card is None:
        raise Conflict('card_expired')
    return card


async def citizen_id_number(db: Database, cipher: FieldCipher, citizen_id: int) -> str:
    """A known citizen's ID number (刷脸, an appointment booked by a citizen)."""
    async with db.read_session() as s:
        citizen = await s.get(Citizen, citizen_id)
    if citizen is None or not citizen.id_number_enc:
        raise NotFound('unknown_citizen', text='unknown_citizen.kiosk')
    return cipher.decrypt(citizen.id_number_enc, context='citizen.id_number')


def appointment_reference(secret: bytes, code: str) -> str:
    """The booking reference: from the signed QR payload, or as typed from the booking."""
    code = code.strip()
    if code.upper().startswith(APPOINTMENT_QR):
        return codes.verify(secret, 'appt', code)
    reference = code.upper()
    if not reference.isalnum() or len(reference) > 32:
        raise Invalid('invalid_reference')
    return reference


async def booked_appointment(db: Database, hall_id: int, reference: str) -> tuple[ServiceItem, int | None]:
    """The service and the citizen (if known) of a booked, not yet used appointment in this hall."""
    async with db.read_session() as s:
        appointment = (
            await s.execute(select(Appointment).where(Appointment.reference == reference))
        ).scalar_one_or_none()
        if appointment is None or appointment.hall_id != hall_id:
            raise NotFound('unknown_appointment')
        if appointment.status != AppointmentStatus.BOOKED:
            raise Conflict('appointment_used')
        service = await s.get(ServiceItem, appointment.service_id)
    assert service is not None
    return service, appointment.citizen_id
