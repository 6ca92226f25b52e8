"""Which SECRET_KEY wrote this database: a key check value stored at the first start, compared at every start.

Why: every encrypted field, device credential, signed code and the audit chain hang on SECRET_KEY. Started
with another key, the app used to run on and refuse all devices and fail every decryption; now it stops
with one line. The value is an HMAC of a fixed label under a key derived for this purpose only, so it
tells nothing about the other keys.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.db import Database
from app.models.key_check import KeyCheck
from app.models.security import AuditEntry
from app.security.keys import Purpose, derive_key
from app.services import audit
from app.services.principal import Principal
from app.services.uow import unit_of_work

LABEL = b'halltwin key check v1'
ROW_ID = 1  # one row: two processes starting at once cannot both store theirs
STORED = 'key_check_stored'
MISMATCH = (
    'halltwin: SECRET_KEY does not match the database (it was written with another key); '
    'start with the key it was written with (see docs/operations.md, secrets)'
)


class KeyMismatch(RuntimeError):
    """SECRET_KEY is not the key this database was written with."""

    def __init__(self) -> None:
        super().__init__(MISMATCH)


def check_value(secret: bytes) -> str:
    """The key check value of `secret` (hex HMAC-SHA256 of LABEL under the KEY_CHECK key)."""
    return hmac.new(derive_key(secret, Purpose.KEY_CHECK), LABEL, hashlib.sha256).hexdigest()


async def verify_key(db: Database, secret: bytes, *, now: dt.datetime) -> bool:
    """Raise KeyMismatch when `secret` is not the database's key; store its check value at the first start.

    Returns True when the value was stored now. A database from before key checks (its audit rows exist)
    gets a value only if its newest audit row verifies under this key, so an upgrade with a changed key stops too.
    `db` must carry the audit key of `secret` (the stored value is audited).
    """
    try:
        return await _verify_or_store(db, secret, now)
    except IntegrityError:  # another process stored its value between our read and write: compare with that
        return await _verify_or_store(db, secret, now)


async def _verify_or_store(db: Database, secret: bytes, now: dt.datetime) -> bool:
    expected = check_value(secret)
    async with unit_of_work(db) as uow:
        stored = await uow.session.get(KeyCheck, ROW_ID)
        if stored is not None:
            if not hmac.compare_digest(stored.check_hash, expected):
                raise KeyMismatch()
            return False
        newest = (
            await uow.session.execute(select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(1))
        ).scalar_one_or_none()
        if newest is not None and not hmac.compare_digest(
            audit.chain_hash(newest, derive_key(secret, Purpose.AUDIT)), newest.hash
        ):
            raise KeyMismatch()
        uow.session.add(KeyCheck(id=ROW_ID, check_hash=expected, created_at=now))
        await uow.session.flush()
        await audit.record_for(uow.session, Principal.system('startup'), action=STORED, now=now)
        return True
