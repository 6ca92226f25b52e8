"""A citizen's own account on the phone: found by a keyed hash of the phone, signed in by a texted code.

The account is not the `Citizen` of the hall's records: a phone proves only the phone. An account is
linked to a `Citizen` (`citizen_id`) only through a verified path (an ID card read at a kiosk, or staff
with the citizen present), never by a number typed on the phone.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import SQLModel

from app.models.fields import internal, sensitive

ACCOUNT_PHONE = 'citizen_account.phone'  # the encryption context of `phone_enc`


class CitizenAccount(SQLModel, table=True):
    __tablename__ = 'citizen_account'
    id: int | None = internal(default=None, primary_key=True)
    phone_hash: str = sensitive(max_length=64, unique=True, index=True)
    phone_enc: str = sensitive(max_length=200)
    citizen_id: int | None = internal(default=None, foreign_key='citizen.id', index=True)
    booking_blocked_until: dt.datetime | None = internal(default=None)  # no-shows: 3 in 30 days block booking
    created_at: dt.datetime = internal()


class CitizenSession(SQLModel, table=True):
    """One signed-in phone; only the token's SHA-256 is kept, so a leaked table holds no live session."""

    __tablename__ = 'citizen_session'
    id: int | None = internal(default=None, primary_key=True)
    account_id: int = internal(foreign_key='citizen_account.id', index=True)
    token_hash: str = sensitive(max_length=64, unique=True, index=True)
    address: str = internal(default='', max_length=64)
    device: str = internal(default='', max_length=40)  # a short name ('iPhone · WeChat'), never the User-Agent
    created_at: dt.datetime = internal()
    last_seen_at: dt.datetime = internal()
    expires_at: dt.datetime = internal()
    revoked_at: dt.datetime | None = internal(default=None)
