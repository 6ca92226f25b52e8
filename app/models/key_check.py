"""The key check value: proof, without the key, of which SECRET_KEY this database was written with."""

from __future__ import annotations

import datetime as dt

from sqlmodel import SQLModel

from app.models.fields import internal, public


class KeyCheck(SQLModel, table=True):
    """One row, stored at the first start: an HMAC of a fixed label under a key derived from SECRET_KEY.

    A start with another SECRET_KEY computes another value and stops (app/security/key_check.py), instead of
    running on and failing to decrypt every field and refusing every device.
    """

    __tablename__ = 'key_check'
    id: int | None = public(default=None, primary_key=True)
    check_hash: str = internal(max_length=64)
    created_at: dt.datetime = internal()
