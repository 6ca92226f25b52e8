"""Finding or recording a citizen by ID number without ever storing the number in clear."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from app.models.people import Citizen
from app.security.crypto import FieldCipher
from app.services.identity import IdentityFacts


async def find_or_create(
    session: AsyncSession,
    cipher: FieldCipher,
    facts: IdentityFacts,
    *,
    now: dt.datetime,
    phone: str | None = None,
    name: str | None = None,
    update_contact: bool,
) -> Citizen:
    """The citizen with this ID number, created if new.

    A stored citizen's phone and name change only when `update_contact` (the number was read from the
    card, matched by face or checked by a clerk): otherwise anyone who knows a person's ID number could
    redirect their messages and their /track second factor to a phone of their own.
    """
    lookup = cipher.lookup(facts.number)
    citizen = (await session.execute(select(Citizen).where(Citizen.id_number_hash == lookup))).scalar_one_or_none()
    new = citizen is None
    if citizen is None:
        citizen = Citizen(
            id_number_enc=cipher.encrypt(facts.number, context='citizen.id_number'),
            id_number_hash=lookup,
            birth_date=facts.birth_date,
            created_at=now,
        )
        session.add(citizen)
    if phone and (new or update_contact):
        citizen.phone_enc = cipher.encrypt(phone, context='citizen.phone')
        citizen.phone_last4_hash = cipher.lookup(phone[-4:])
    if name and (new or update_contact):
        citizen.name_enc = cipher.encrypt(name, context='citizen.name')
    await session.flush()
    return citizen


async def record_contact(
    session: AsyncSession, cipher: FieldCipher, *, now: dt.datetime, phone: str, name: str | None = None
) -> Citizen:
    """A citizen who gave only a phone number: enough for notices and for /track's second factor."""
    citizen = Citizen(
        phone_enc=cipher.encrypt(phone, context='citizen.phone'),
        phone_last4_hash=cipher.lookup(phone[-4:]),
        name_enc=cipher.encrypt(name, context='citizen.name') if name else None,
        created_at=now,
    )
    session.add(citizen)
    await session.flush()
    return citizen
