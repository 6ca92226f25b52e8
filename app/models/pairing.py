"""Kiosk screens are paired devices: a one-time pairing code an admin issues, and the screen credential it buys.

A pairing code is short (typed or scanned at the kiosk), lives 10 minutes and works once; only its
keyed hash is stored. The credential it is exchanged for is 256 random bits held by the kiosk's
browser in an HttpOnly cookie; only its SHA-256 is stored. One live credential per kiosk: the
partial unique index holds that even when two screens pair at the same moment.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, text
from sqlmodel import SQLModel

from app.models.fields import internal, personal, public, sensitive

LIVE = 'revoked_at IS NULL'


class KioskPairingCode(SQLModel, table=True):
    __tablename__ = 'kiosk_pairing_code'
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id')
    device_id: int = public(foreign_key='device.id', index=True)
    code_hash: str = sensitive(max_length=64, unique=True)  # keyed hash of the code: the code itself is shown once
    issued_by: str = internal(max_length=64)
    issued_at: dt.datetime = internal()
    expires_at: dt.datetime = internal()  # moved to the issue time of a newer code for the same kiosk
    used_at: dt.datetime | None = internal(default=None)


class KioskScreenCredential(SQLModel, table=True):
    __tablename__ = 'kiosk_screen_credential'
    __table_args__ = (
        Index(
            'uq_kiosk_screen_live_device',
            'device_id',
            unique=True,
            sqlite_where=text(LIVE),
            postgresql_where=text(LIVE),
        ),
    )
    id: int | None = public(default=None, primary_key=True)
    hall_id: int = public(foreign_key='hall.id')
    device_id: int = public(foreign_key='device.id', index=True)
    token_hash: str = sensitive(max_length=64, unique=True)  # SHA-256 of the cookie's 256-bit token
    created_at: dt.datetime = internal()
    created_by: str = internal(max_length=64)  # the admin who issued the pairing code
    client_address: str = personal(default='', max_length=64)  # where the screen paired from
    last_seen_at: dt.datetime = internal()
    revoked_at: dt.datetime | None = internal(default=None)
