"""Citizen accounts and a booking service for tests: the account row is built directly, as sign-in would."""

from __future__ import annotations

import datetime as dt
import hashlib

from app.clock import utcnow
from app.db import Database
from app.models.citizen_account import ACCOUNT_PHONE, CitizenAccount
from app.security.crypto import FieldCipher
from app.services.principal import Principal

MONDAY = dt.date(2026, 11, 30)  # the first working day after the fake clock's Saturday
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A hall-local time as an aware moment."""
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


async def account(db: Database, cipher: FieldCipher, phone: str) -> Principal:
    """A signed-in phone's caller; the account row as the sign-in service writes it."""
    async with db.session() as s, s.begin():
        row = CitizenAccount(
            phone_hash=hashlib.sha256(phone.encode()).hexdigest(),
            phone_enc=cipher.encrypt(phone, context=ACCOUNT_PHONE),
            created_at=utcnow(),
        )
        s.add(row)
        await s.flush()
        assert row.id is not None
        return Principal.account(row.id, address='198.51.100.7')
