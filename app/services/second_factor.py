"""TOTP second factor: the codes, their replay guard and the one-time recovery codes.

Managers and admins (SECOND_FACTOR_ROLES) must give a code after their password; staff may enrol one.
The secret is stored encrypted with the field key, bound to its user; a code is accepted one step
either side of now, and only for a step later than the last one used, so a code seen over a shoulder
cannot be used again. Recovery codes are random 80-bit strings, stored as SHA-256 only, each good once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from app.models.people import RecoveryCode, StaffTotp, StaffUser
from app.security.crypto import FieldCipher

ISSUER = 'HallTwin'
STEP_SECONDS = 30
RECOVERY_CODES = 10
_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'  # no I, O, 0, 1: read aloud or copied by hand without doubt
TOTP_ENROLMENT_STARTED = 'totp_enrolment_started'
TOTP_ENROLLED = 'totp_enrolled'
TOTP_FAILED = 'totp_failed'
RECOVERY_CODE_USED = 'recovery_code_used'


def step_at(when: dt.datetime) -> int:
    return int(when.timestamp()) // STEP_SECONDS


def new_secret() -> str:
    return pyotp.random_base32()


def seal(cipher: FieldCipher, user_id: int, secret: str) -> str:
    return cipher.encrypt(secret, context=f'totp:{user_id}')


def unseal(cipher: FieldCipher, row: StaffTotp) -> str:
    return cipher.decrypt(row.secret_enc, context=f'totp:{row.user_id}')


def provisioning_uri(secret: str, username: str, hall_name: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=f'{username}@{hall_name}', issuer_name=ISSUER)


def matching_step(secret: str, code: str, now: dt.datetime, after: int) -> int | None:
    """The step (now-1, now or now+1) whose code is `code`, if later than `after`; else None."""
    code = code.strip().replace(' ', '')
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = step_at(now)
    for step in (current - 1, current, current + 1):
        if step > after and secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def recovery_hash(code: str) -> str:
    return hashlib.sha256(code.strip().replace('-', '').upper().encode()).hexdigest()


def new_recovery_codes() -> list[str]:
    """Ten codes like 'K7QF-M2XD-9RTA-WB4C': 16 base32 characters, 80 bits each."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = ''.join(secrets.choice(_ALPHABET) for _ in range(16))
        codes.append('-'.join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


async def enrolment(s: AsyncSession, user_id: int) -> StaffTotp | None:
    return await s.get(StaffTotp, user_id)


async def use_code(s: AsyncSession, cipher: FieldCipher, user: StaffUser, code: str, now: dt.datetime) -> str | None:
    """Consume a TOTP or recovery code of a confirmed enrolment: 'totp', 'recovery_code', or None if refused."""
    assert user.id is not None
    row = await enrolment(s, user.id)
    if row is None or row.confirmed_at is None:
        return None
    step = matching_step(unseal(cipher, row), code, now, row.last_step)
    if step is not None:
        row.last_step = step
        return 'totp'
    if len(code.strip()) < 16:
        return None
    statement = select(RecoveryCode).where(
        col(RecoveryCode.user_id) == user.id,
        col(RecoveryCode.code_hash) == recovery_hash(code),
        col(RecoveryCode.used_at).is_(None),
    )
    recovery = (await s.execute(statement)).scalar_one_or_none()
    if recovery is None:
        return None
    recovery.used_at = now
    return 'recovery_code'
